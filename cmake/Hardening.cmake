# Sanitizer and fuzzing builds (issue 14). Both are off in the default build; scripts/sanitize.sh
# and scripts/fuzz.sh configure them in build directories of their own.
#
# ZEROCELL_SANITIZE=address | undefined | address,undefined | thread
#   Compiles and links every C/C++ target with -fsanitize=<list>, except targets with the
#   ZEROCELL_NO_SANITIZE property: the freestanding zerocell-loader (no runtime could start in it).
#   Guests and the ELF test programs are built by custom commands (musl-gcc, the C compiler), so
#   they never get the flags. Any finding aborts the process, so the test that ran it fails.
# ZEROCELL_FUZZ=ON
#   Builds the libFuzzer targets in tests/fuzz (clang only, with address and/or undefined); all
#   code of the build gets libFuzzer's coverage feedback (-fsanitize=fuzzer-no-link).
set(ZEROCELL_SANITIZE "" CACHE STRING
    "Sanitizers for host code: address, undefined, address,undefined or thread (empty: none)")
option(ZEROCELL_FUZZ "Build the libFuzzer targets in tests/fuzz (clang)" OFF)

set(ZEROCELL_SANITIZE_FLAGS)
set(ZEROCELL_SANITIZER_ENVIRONMENT)
if(ZEROCELL_SANITIZE)
  string(REPLACE "," ";" sanitizers "${ZEROCELL_SANITIZE}")
  foreach(s IN LISTS sanitizers)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "ZEROCELL_SANITIZE: \"${s}\" is not address, undefined or thread")
    endif()
  endforeach()
  if("thread" IN_LIST sanitizers AND NOT sanitizers STREQUAL "thread")
    message(FATAL_ERROR "ZEROCELL_SANITIZE: thread cannot be combined with ${ZEROCELL_SANITIZE}")
  endif()
  list(APPEND ZEROCELL_SANITIZE_FLAGS -fsanitize=${ZEROCELL_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST sanitizers)
    # Why: a report that lets the program go on is easily lost in a passing test's output.
    list(APPEND ZEROCELL_SANITIZE_FLAGS -fno-sanitize-recover=all)
  endif()
  set(not_excluded "$<NOT:$<BOOL:$<TARGET_PROPERTY:ZEROCELL_NO_SANITIZE>>>")
  add_compile_options(
    "$<$<AND:$<COMPILE_LANGUAGE:C,CXX>,${not_excluded}>:${ZEROCELL_SANITIZE_FLAGS}>")
  add_link_options("$<${not_excluded}:${ZEROCELL_SANITIZE_FLAGS}>")
  if("thread" IN_LIST sanitizers)
    # gRPC's header code is left uninstrumented like the rest of gRPC: see the file.
    # Its content's hash goes in a define too: scripts/test.sh has ccache leave the option (an
    # absolute path, another in every clone) out of its hash, and the define keeps an edited list
    # from reusing objects built with the old one.
    set(ignorelist ${CMAKE_SOURCE_DIR}/tests/sanitizers/tsan_ignorelist.txt)
    file(SHA256 ${ignorelist} ignorelist_sha256)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ignorelist})
    add_compile_options("$<$<AND:$<COMPILE_LANGUAGE:C,CXX>,${not_excluded}>:-fsanitize-ignorelist=${ignorelist}>"
                        "$<$<AND:$<COMPILE_LANGUAGE:C,CXX>,${not_excluded}>:-DZEROCELL_TSAN_IGNORELIST_SHA256=${ignorelist_sha256}>")
    # TSan cannot see abseil's Mutex, CondVar and Notification (Debian's libabsl is not instrumented and
    # they block in futex calls): every program links tests/sanitizers/absl_tsan.cc, whose
    # wrappers tell TSan what they do, and `ld --wrap` sends our calls through them. The names are
    # those of Debian 12's abseil (inline namespace debian3); with another abseil nothing is
    # wrapped and TSan reports races on mutex-guarded data.
    add_library(zerocell_tsan_absl STATIC ${CMAKE_SOURCE_DIR}/tests/sanitizers/absl_tsan.cc)
    link_libraries(zerocell_tsan_absl)
    foreach(sym
        _ZN4absl7debian35Mutex4LockEv _ZN4absl7debian35Mutex6UnlockEv
        _ZN4absl7debian35Mutex10ReaderLockEv _ZN4absl7debian35Mutex12ReaderUnlockEv
        _ZN4absl7debian35Mutex7TryLockEv _ZN4absl7debian35Mutex13ReaderTryLockEv
        _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE
        _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE
        _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE
        _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE
        _ZN4absl7debian35MutexD1Ev
        _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE
        _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE
        _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE
        _ZN4absl7debian312Notification6NotifyEv
        _ZNK4absl7debian312Notification19WaitForNotificationEv
        _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE
        _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE)
      add_link_options(LINKER:--wrap=${sym})
    endforeach()
    # ld applies --wrap to the undefined symbols of the shared libraries it checks too (abseil's
    # own users of Mutex); at run time they bind to the real functions, so do not fail on them.
    add_link_options(LINKER:--allow-shlib-undefined)
  endif()
  # The runtimes read their options from the environment; tests get these (and pass them on to
  # the zerocelld they start): stop at the first report with a non-zero exit and a stack.
  # ignore_noninstrumented_modules: Debian's gRPC and abseil are not instrumented, so TSan sees
  # their system calls (epoll, memmove...) but not the synchronization around them; their
  # intercepted calls are not checked (our code's still are).
  set(ZEROCELL_SANITIZER_ENVIRONMENT
      "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
      "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/sanitizers/lsan.supp:print_suppressions=0"
      "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=${CMAKE_SOURCE_DIR}/tests/sanitizers/tsan.supp")
endif()

if(ZEROCELL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ZEROCELL_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
  endif()
  if(NOT ZEROCELL_SANITIZE MATCHES "address|undefined")
    message(FATAL_ERROR "ZEROCELL_FUZZ needs ZEROCELL_SANITIZE=address,undefined (or one of them)")
  endif()
  add_compile_options(
    "$<$<AND:$<COMPILE_LANGUAGE:C,CXX>,${not_excluded}>:-fsanitize=fuzzer-no-link>")
endif()
