# zerocell_add_guest(NAME SOURCE [FLAGS...]): builds a static musl guest program into
# ${CMAKE_BINARY_DIR}/guests/NAME with musl-gcc, outside CMake's C++ toolchain.
set(ZEROCELL_GUEST_DIR ${CMAKE_BINARY_DIR}/guests)
file(MAKE_DIRECTORY ${ZEROCELL_GUEST_DIR})
function(zerocell_add_guest name source)
  set(out ${ZEROCELL_GUEST_DIR}/${name})
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${MUSL_GCC} -static -O2 -Wall -Werror ${ARGN} -o ${out} ${source}
    DEPENDS ${source}
    COMMENT "musl-gcc -static ${name}")
  add_custom_target(guest_${name} ALL DEPENDS ${out})
endfunction()
