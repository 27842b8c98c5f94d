# zerocell_add_test(NAME SOURCES a.cc... LIBS lib... [DEPENDS t...] [TIMEOUT s] [LABELS l...]
#                   [CONFINED]): one GoogleTest binary. Each test case is its own CTest entry,
# NAME.Suite.Case (gtest_discover_tests, listed when ctest runs: DISCOVERY_MODE PRE_TEST, so the
# build never runs test binaries), with TIMEOUT (default 300 s) and LABELS (default unit):
#   unit       no process beyond the test's own (fakes at the seams);
#   e2e        real sandboxes, a real zerocelld or the CLI as a subprocess;
#   slow       a binary whose cases add up to more than about ten seconds.
# Tests find binaries and guests through ZEROCELL_BIN_DIR and ZEROCELL_GUEST_DIR. Every test
# links test_support (tests/testing).
#
# CONFINED also registers the whole binary twice more through zerocell-test-confine:
#   NAME.unprivileged  as uid 65534 with no capabilities and no-new-privs (label unprivileged);
#   NAME.pod           as uid 10001 with no capabilities, no-new-privs and moby's default seccomp
#                      profile, the way a restricted Kubernetes pod runs (label pod).
# (Run as a non-root user, both keep that user's uid.) The build tree must be readable by them.
# These stay one entry per binary: gtest_discover_tests can run a case only through the target's
# one CROSSCOMPILING_EMULATOR, and one confinement per case would repeat its fixed start-up cost
# (a zerocelld, a host probe) for every case.
include(GoogleTest)
set(ZEROCELL_TEST_ENVIRONMENT
  "ZEROCELL_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ZEROCELL_GUEST_DIR=${CMAKE_BINARY_DIR}/guests;ZEROCELL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
# Sanitizer builds: the runtimes' options (cmake/Hardening.cmake), also for the zerocelld under test.
list(APPEND ZEROCELL_TEST_ENVIRONMENT ${ZEROCELL_SANITIZER_ENVIRONMENT})
set(ZEROCELL_CONFINE ${CMAKE_BINARY_DIR}/tests/zerocell-test-confine)
set(ZEROCELL_POD_PROFILE ${CMAKE_SOURCE_DIR}/docker/seccomp/moby-default.json)

# zerocell_add_confined_variants(NAME TIMEOUT ENVIRONMENT COMMAND...): the two confined runs.
function(zerocell_add_confined_variants name timeout environment)
  add_test(NAME ${name}.unprivileged COMMAND ${ZEROCELL_CONFINE} --uid=65534 --gid=65534 --
           ${ARGN})
  add_test(NAME ${name}.pod COMMAND ${ZEROCELL_CONFINE} --uid=10001 --gid=10001
           --seccomp=${ZEROCELL_POD_PROFILE} -- ${ARGN})
  set_tests_properties(${name}.unprivileged PROPERTIES TIMEOUT ${timeout} LABELS unprivileged
                       ENVIRONMENT "${environment}")
  set_tests_properties(${name}.pod PROPERTIES TIMEOUT ${timeout} LABELS pod
                       ENVIRONMENT "${environment}")
endfunction()

function(zerocell_add_test name)
  cmake_parse_arguments(T "CONFINED" "TIMEOUT" "SOURCES;LIBS;DEPENDS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} test_support GTest::gtest_main GTest::gmock)
  target_compile_options(${name} PRIVATE ${ZEROCELL_TEST_COMPILE_OPTIONS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(T_DEPENDS)
    add_dependencies(${name} ${T_DEPENDS})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${name}." TEST_LIST ${name}_cases
                       DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60)
  # List-valued properties (ENVIRONMENT, LABELS) do not survive gtest_discover_tests' PROPERTIES
  # (it splits them at every ';'): they are set on the discovered cases by a file CTest includes
  # after the discovery's own.
  set(properties_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake)
  file(WRITE ${properties_file}
       "if(${name}_cases)\n"
       "  set_tests_properties(\${${name}_cases} PROPERTIES TIMEOUT ${T_TIMEOUT}\n"
       "    LABELS [==[${T_LABELS}]==] ENVIRONMENT [==[${ZEROCELL_TEST_ENVIRONMENT}]==])\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${properties_file})
  if(T_CONFINED)
    add_dependencies(${name} zerocell-test-confine)
    zerocell_add_confined_variants(${name} ${T_TIMEOUT} "${ZEROCELL_TEST_ENVIRONMENT}"
                                   $<TARGET_FILE:${name}>)
  endif()
endfunction()
