# zerocell_musl_guest(NAME name SRCS c... [OUTPUT_DIR dir] [TARGET target] [PIE] [FLAGS flag...]): the one recipe for a musl guest program. Builds the C
# sources with musl-gcc (outside CMake's C++ toolchain: no sanitizer or C++ flag reaches a guest)
# into OUTPUT_DIR/NAME (default ${ZEROCELL_GUEST_DIR}); the custom target TARGET (default
# guest_NAME, part of ALL) builds it.
#   - default: -static, ET_EXEC.
#   - PIE: a self-relocating static-pie (ET_DYN with PT_DYNAMIC, no PT_INTERP). Debian 12's
#     musl-gcc specs ignore -static-pie (they link Scrt1.o against libc.so with a PT_INTERP), so
#     musl's rcrt1.o and the start files are named explicitly.
#   - FLAGS: extra compiler flags.
set(ZEROCELL_GUEST_DIR ${CMAKE_BINARY_DIR}/guests)
file(MAKE_DIRECTORY ${ZEROCELL_GUEST_DIR})
find_file(ZEROCELL_MUSL_RCRT1 rcrt1.o
  PATHS /usr/lib/x86_64-linux-musl /usr/lib/musl/lib /usr/local/musl/lib NO_DEFAULT_PATH REQUIRED)
get_filename_component(ZEROCELL_MUSL_CRT_DIR ${ZEROCELL_MUSL_RCRT1} DIRECTORY)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=crtbeginS.o
                OUTPUT_VARIABLE ZEROCELL_CRTBEGIN_S OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=crtendS.o
                OUTPUT_VARIABLE ZEROCELL_CRTEND_S OUTPUT_STRIP_TRAILING_WHITESPACE)

function(zerocell_musl_guest)
  cmake_parse_arguments(G "PIE" "NAME;OUTPUT_DIR;TARGET" "SRCS;FLAGS" ${ARGN})
  if(NOT G_NAME OR NOT G_SRCS)
    message(FATAL_ERROR "zerocell_musl_guest: NAME and SRCS are required")
  endif()
  if(NOT G_OUTPUT_DIR)
    set(G_OUTPUT_DIR ${ZEROCELL_GUEST_DIR})
  endif()
  if(NOT G_TARGET)
    set(G_TARGET guest_${G_NAME})
  endif()
  set(out ${G_OUTPUT_DIR}/${G_NAME})
  set(srcs)
  foreach(src IN LISTS G_SRCS)
    get_filename_component(src ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND srcs ${src})
  endforeach()
  if(G_PIE)
    set(link -fPIE -static-pie -nostartfiles -Wl,-static,-pie,--no-dynamic-linker,-z,text
        ${ZEROCELL_MUSL_CRT_DIR}/rcrt1.o ${ZEROCELL_MUSL_CRT_DIR}/crti.o ${ZEROCELL_CRTBEGIN_S}
        ${srcs} ${ZEROCELL_CRTEND_S} ${ZEROCELL_MUSL_CRT_DIR}/crtn.o)
    set(kind "static-pie")
  else()
    set(link -static ${srcs})
    set(kind "static")
  endif()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${MUSL_GCC} -O2 -Wall -Werror ${G_FLAGS} -o ${out} ${link}
    DEPENDS ${srcs}
    COMMENT "musl-gcc ${kind} ${G_NAME}")
  add_custom_target(${G_TARGET} ALL DEPENDS ${out})
endfunction()
