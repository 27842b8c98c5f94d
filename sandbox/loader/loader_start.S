// zerocell-loader entry and the final jump into the guest.
        .text
        .globl _start
        .type _start, @function
_start:
        xor %ebp, %ebp
        mov %rsp, %rdi          // initial stack: argc, argv, envp, auxv
        and $-16, %rsp
        call loader_main
        hlt

// void enter_guest(uint64_t entry, uint64_t sp): never returns. Clears every general register so
// nothing of the loader's state reaches the guest; rdx = 0 means "no rtld_fini" in the ELF ABI.
        .globl enter_guest
        .type enter_guest, @function
enter_guest:
        mov %rsi, %rsp
        mov %rdi, %r11
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
        .section .note.GNU-stack,"",@progbits
