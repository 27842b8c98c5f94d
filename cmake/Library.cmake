# zerocell_cc_library(NAME name [HDRS h...] [SRCS cc...] [DEPS lib...] [PRIVATE_DEPS lib...]
#                     [TESTONLY]): one library of the project, in the style of abseil's
# absl_cc_library.
#   - HDRS are its public headers, SRCS its sources; without SRCS it is a header-only (INTERFACE)
#     library.
#   - DEPS are what its headers expose (PUBLIC: a dependent gets them too); PRIVATE_DEPS are used
#     by its sources only. Every header a file includes from another library must come from a
#     DEPS or PRIVATE_DEPS entry: scripts/check_layering.py checks the include lines against the
#     layers, this keeps the link lines honest.
#   - Include paths are the target's own (the source root, and the build root for generated
#     headers), never global.
#   - TESTONLY marks test support: only tests and benchmarks may link it; it is compiled as
#     tests are (ZEROCELL_TEST_COMPILE_OPTIONS).
#   - An alias zerocell::name is defined.
# Test code (test binaries, TESTONLY libraries) is compiled at -O1 -g1 in optimized builds: it
# is gtest/gRPC-heavy set-up code that gains nothing from -O2, and these flags halve its compile
# time (a cold build of the whole project is about a third shorter). The code under test, in
# the project's libraries, keeps the build type's flags; benchmarks and fuzz targets too.
set(ZEROCELL_TEST_COMPILE_OPTIONS "$<$<CONFIG:RelWithDebInfo,Release>:-O1>"
    "$<$<CONFIG:RelWithDebInfo>:-g1>")

function(zerocell_cc_library)
  cmake_parse_arguments(L "TESTONLY" "NAME" "HDRS;SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  if(NOT L_NAME)
    message(FATAL_ERROR "zerocell_cc_library: NAME is required")
  endif()
  if(L_SRCS)
    add_library(${L_NAME} ${L_SRCS} ${L_HDRS})
    target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${L_NAME} PUBLIC ${L_DEPS} PRIVATE ${L_PRIVATE_DEPS})
  else()
    add_library(${L_NAME} INTERFACE ${L_HDRS})
    target_include_directories(${L_NAME} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${L_NAME} INTERFACE ${L_DEPS})
  endif()
  if(L_TESTONLY)
    set_target_properties(${L_NAME} PROPERTIES ZEROCELL_TESTONLY ON)
    if(L_SRCS)
      target_compile_options(${L_NAME} PRIVATE ${ZEROCELL_TEST_COMPILE_OPTIONS})
    endif()
  endif()
  add_library(zerocell::${L_NAME} ALIAS ${L_NAME})
endfunction()

# zerocell_cc_binary(NAME name SRCS cc... [DEPS lib...]): a program of the project.
function(zerocell_cc_binary)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SRCS})
  target_include_directories(${B_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS})
endfunction()
