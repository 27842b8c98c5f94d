# zerocell_add_test(NAME SOURCES a.cc... LIBS lib... [DEPENDS t...] [TIMEOUT s] [CONFINED]):
# one GoogleTest binary registered with CTest. Tests find binaries and guests through
# ZEROCELL_BIN_DIR and ZEROCELL_GUEST_DIR.
#
# CONFINED also registers the binary twice more through zerocell-test-confine:
#   NAME.unprivileged  as uid 65534 with no capabilities and no-new-privs (label unprivileged);
#   NAME.pod           as uid 10001 with no capabilities, no-new-privs and moby's default seccomp
#                      profile, the way a restricted Kubernetes pod runs (label pod).
# (Run as a non-root user, both keep that user's uid.) The build tree must be readable by them.
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
  cmake_parse_arguments(T "CONFINED" "TIMEOUT" "SOURCES;LIBS;DEPENDS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest_main GTest::gmock)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(T_DEPENDS)
    add_dependencies(${name} ${T_DEPENDS})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT
                       "${ZEROCELL_TEST_ENVIRONMENT}")
  if(T_CONFINED)
    add_dependencies(${name} zerocell-test-confine)
    zerocell_add_confined_variants(${name} ${T_TIMEOUT} "${ZEROCELL_TEST_ENVIRONMENT}"
                                   $<TARGET_FILE:${name}>)
  endif()
endfunction()
