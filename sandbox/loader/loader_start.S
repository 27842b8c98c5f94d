// zerocell-loader entry, its own stack, and the final jump into the guest.
        .set LOADER_STACK_BYTES, 32768

// The loader runs on this stack, not the exec stack: the exec stack (auxv, AT_RANDOM, the
// loader's path) is unmapped before the guest runs, and this one is zeroed at the jump.
        .bss
        .balign 64
loader_stack:
        .skip LOADER_STACK_BYTES
loader_stack_top:

        .text
        .globl _start
        .type _start, @function
_start:
        xor %ebp, %ebp
        mov %rsp, %rdi          // the exec stack: argc, argv, envp, auxv
        lea loader_stack_top(%rip), %rsp
        call loader_main
        hlt

// void enter_guest(uint64_t entry, uint64_t sp): never returns. Moves to the guest stack, zeroes
// the loader's stack (nothing of the loader's work stays readable) and clears every general
// register so nothing of the loader's state reaches the guest; rdx = 0 means "no rtld_fini" in
// the ELF ABI.
        .globl enter_guest
        .type enter_guest, @function
enter_guest:
        mov %rsi, %rsp
        mov %rdi, %r11
        cld
        lea loader_stack(%rip), %rdi
        mov $(LOADER_STACK_BYTES / 8), %ecx
        xor %eax, %eax
        rep stosq
        xor %eax, %eax
        xor %ebx, %ebx
        xor %ecx, %ecx
        xor %edx, %edx
        xor %esi, %esi
        xor %edi, %edi
        xor %ebp, %ebp
        xor %r8d, %r8d
        xor %r9d, %r9d
        xor %r10d, %r10d
        xor %r12d, %r12d
        xor %r13d, %r13d
        xor %r14d, %r14d
        xor %r15d, %r15d
        push %r11
        xor %r11d, %r11d
        ret

// The restorer of the loader's SIGSEGV handler (tsc_trap.cc): returns from the signal frame.
        .globl zerocell_sigreturn
        .type zerocell_sigreturn, @function
zerocell_sigreturn:
        mov $15, %eax           // __NR_rt_sigreturn
        syscall
        hlt
        .section .note.GNU-stack,"",@progbits
