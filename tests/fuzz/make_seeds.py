#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/ (run from the repo
root; request seeds need protoc). Seeds are small valid inputs plus a few near misses: libFuzzer
mutates from them, so each reaches past the first checks of its target at once."""
import os
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


BASE = 0x400000
EXIT0 = b"\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"  # xor edi,edi; mov eax,60; syscall


def elf(code=EXIT0, etype=2, segments=None, shdrs=b"", shnum=0):
    """A static x86-64 ELF: code at file offset 0x1000, one R+X PT_LOAD over the whole file (or
    `segments`: (flags, offset, vaddr, filesz, memsz) tuples)."""
    base = 0 if etype == 3 else BASE
    size = 0x1000 + len(code)
    shoff = size if shdrs else 0
    size += len(shdrs)
    if segments is None:
        segments = [(5, 0, base, size, size)]
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", etype, 62, 1, base + 0x1000, 64, shoff, 0, 64, 56,
                             len(segments), 64, shnum, 0)
    ph = b"".join(struct.pack("<IIQQQQQQ", 1, f, off, va, va, fs, ms, 0x1000)
                  for f, off, va, fs, ms in segments)
    body = (eh + ph).ljust(0x1000, b"\0") + code + shdrs
    return body


def exec_shdrs(code_len, starts):
    """Null section + executable PROGBITS sections starting at the given code offsets."""
    out = bytes(64)
    for s in starts:
        out += struct.pack("<IIQQQQIIQQ", 1, 1, 6, BASE + 0x1000 + s, 0x1000 + s, code_len - s,
                           0, 0, 16, 0)
    return out


def elf_seeds():
    put("elf", "exit0", elf())
    put("elf", "pie", elf(etype=3))
    # Code and data segments, data with bss (memsz > filesz).
    put("elf", "two_segments", elf(segments=[(5, 0, BASE, 0x1009, 0x1009),
                                             (6, 0x1000, BASE + 0x2000, 9, 0x3000)]))
    put("elf", "w_and_x", elf(segments=[(7, 0, BASE, 0x1009, 0x1009)]))  # refused: W+X
    put("elf", "truncated", elf()[:100])


def validator_seeds():
    # Byte 0 is the mode (validator_fuzz.cc): bit 0 deterministic policy, bits 1-2 the layout.
    put("validator", "file_exit0", b"\0" + elf())
    put("validator", "code_exit0", b"\x02" + EXIT0)
    put("validator", "pie_code", b"\x04" + b"\x48\x8d\x05\x00\x00\x00\x00" + EXIT0)  # lea rax,[rip]
    put("validator", "det_rdrand", b"\x03" + b"\x0f\xc7\xf0" + EXIT0)  # rdrand eax: refused
    put("validator", "det_rdtsc", b"\x03" + b"\x0f\x31" + EXIT0)
    put("validator", "privileged", b"\x02" + b"\x0f\x01\x10" + b"\xfa" + EXIT0)  # lgdt; cli
    put("validator", "sections", b"\x06" + b"\x02\x00\x05\x00" + b"\xeb\x01\xff" + EXIT0)
    put("validator", "undecodable", b"\x02" + b"\x0f\x0b\xff\xff\xff\xff" + EXIT0)
    code = b"\x0f\xa2" + EXIT0  # cpuid
    put("validator", "file_with_sections",
        b"\0" + elf(code, shdrs=exec_shdrs(len(code), [0, 2]), shnum=3))


CLASSIC_1 = (
    "Version = 20130611\n"
    "Program = /bin/prog\n"
    "Timeout = 5\n"
    "Memory = 33554432, 0\n"
    "Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0\n"
    "Channel = /tmp/out, /dev/stdout, 0, 1, 0, 0, 10, 4096\n"
    "Channel = /tmp/err, /dev/stderr, 0, 0, 0, 0, 10, 4096\n"
    "Channel = /tmp/nvram, /dev/nvram, 0, 0, 10, 4096, 0, 0\n"
    "Node = 1\nJob = job\nEtag = 0\n")
CLASSIC_2 = (
    "Channel = /srv/job/input.txt, /dev/stdin, 0, 10, 4096, 0, 0\n"
    "Channel = /srv/job/output.txt, /dev/stdout, 0, 0, 0, 10, 4096\n"
    "Channel = /srv/job/errors.txt, /dev/stderr, 3, 0, 0, 10, 4096\n"
    "Channel = bin/job-program, /boot/elf, 1, 0x100, 0x100000, 0, 0\n"
    "Channel = /srv/nvram, /dev/nvram, 0, 010, 4096, 0, 0, etag\n"
    "Memory = 0x4000000, 1\n"
    "Timeout = 600\n"
    "Node = 2\nBroker = tcp://host:1\n"
    "Version = 20140509\n")
NVRAM = ("[args]\nargs = tool -v \"two words\" a\\x2Cb # comment\n"
         "[env]\nname = HOME, value = /home/zvm\nvalue=x\\x20y, name=ORDER\n"
         "[time]\nseconds=1370454582\n"
         "[fstab]\nchannel=/dev/tar, mountpoint=/, access=ro\n")


def manifest_seeds():
    # Byte 0 (mod 3): 0 nvram text, 1 manifest text, 2 manifest '\0' nvram.
    put("manifest", "nvram", "\0" + NVRAM)
    put("manifest", "v20130611", "\x01" + CLASSIC_1)
    put("manifest", "v20140509", "\x01" + CLASSIC_2)
    put("manifest", "v20130611_nvram", "\x02" + CLASSIC_1 + "\0" + NVRAM)
    put("manifest", "v20140509_nvram", "\x02" + CLASSIC_2 + "\0" + NVRAM)
    put("manifest", "crlf_banner", "\x01" + "=====\r\n" + CLASSIC_1.replace("\n", "\r\n"))


def encode(message, text):
    proto_dir = os.path.join(os.path.dirname(ROOT), "..", "..", "proto")
    return subprocess.run(
        ["protoc", "-I", proto_dir, "--encode=zerocell.v1." + message,
         "zerocell/v1/sandbox.proto"], input=text.encode(), stdout=subprocess.PIPE,
        check=True).stdout


def request_seeds():
    channels = (
        'channels { alias: "/dev/stdin" gets: 10 get_size: 100 initial_data: "hello" }\n'
        'channels { alias: "/dev/stdout" puts: 10 put_size: 1000 }\n'
        'channels { alias: "/dev/stderr" puts: 10 put_size: 1000 etag: true }\n')
    full = ('image_id: "' + "ab" * 32 + '"\nmanifest { timeout_ms: 1000 cpu_limit_ms: 500 '
            'memory_bytes: 16777216 output_limit_bytes: 2000 argv: "prog" argv: "-x" '
            'env: "A=1" clock_start_unix_ns: 1000000000 random_seed: 7 memory_etag: true\n'
            + channels + '}\n')
    # Byte 0 even: ExecuteRequest, odd: RegisterImageRequest.
    put("request", "execute", b"\0" + encode("ExecuteRequest", full))
    put("request", "execute_defaults",
        b"\0" + encode("ExecuteRequest", 'image_id: "x"\nmanifest {\n' + channels + '}\n'))
    put("request", "execute_inline_image",
        b"\0" + encode("ExecuteRequest", 'image: "\\177ELF"\nmanifest {\n' + channels
                       + 'channels { alias: "/dev/data" type: CHANNEL_TYPE_RAND_READ_RAND_WRITE '
                       'gets: 1 get_size: 10 puts: 1 put_size: 10 initial_data: "0123" }\n}\n'))
    put("request", "register", b"\x01" + encode("RegisterImageRequest",
                                                  'elf: "\\177ELF" name: "job"'))


def supervisor_seeds():
    # FuzzedDataProvider input: any bytes are valid; these differ in the calls they pick.
    put("supervisor", "zeros", bytes(256))
    put("supervisor", "ramp", bytes(range(256)) * 2)
    put("supervisor", "ones", b"\xff" * 256)
    put("supervisor", "text", (NVRAM * 2).encode())


if __name__ == "__main__":
    elf_seeds()
    validator_seeds()
    manifest_seeds()
    request_seeds()
    supervisor_seeds()
