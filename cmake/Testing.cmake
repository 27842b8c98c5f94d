# zerocell_add_test(NAME SOURCES a.cc... LIBS lib...): one GoogleTest binary registered with CTest.
# Tests find binaries and guests through ZEROCELL_BIN_DIR and ZEROCELL_GUEST_DIR.
function(zerocell_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;DEPENDS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
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
    "ZEROCELL_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ZEROCELL_GUEST_DIR=${CMAKE_BINARY_DIR}/guests;ZEROCELL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
