@testable import SVMCore
import VMXCore

/// CPUID leaves 0, 1, 80000000h, 80000001h, 8000000Ah, 80000008h and the
/// MSRs EFER, VM_CR and VM_HSAVE_PA of two AMD-V models, captured
/// empirically:
///
/// - QEMU 7.2 TCG `-cpu max` (Debian package qemu-system-x86
///   1:7.2+dfsg-7+deb12u18): AuthenticAMD, SVM with NP, VGIF and
///   NestedVirtVmcbAddrChk only (no NRIPS, no decode assists), 16 ASIDs,
///   40 physical-address bits.
/// - Bochs 2.7 `cpu: model=ryzen` (Debian package bochs 2.7+dfsg-4+deb12u1):
///   AuthenticAMD, SVM with NP, LbrVirt, SVML, NRIPS, FlushByAsid and
///   PauseFilter, 32768 ASIDs, 40 physical-address bits. Bochs's own log
///   shows the same CPUID lines (`CPUID[0x8000000a]: 00000001 00008000
///   00000000 0000044f`).
///
/// How: a 512-byte real-mode boot sector (NASM, `-f bin`, source at the end
/// of this file) sets COM1 to 115200 8N1, prints `cpuid LLLLLLLL=EAX EBX
/// ECX EDX` for each leaf of its table, then `msr NNNNNNNN=EDX:EAX` (or
/// `GP`, from a real-mode #GP handler that skips the RDMSR) for each MSR,
/// and writes "Shutdown" to port 0x8900 (Bochs exits) and 0 to port 0xF4
/// (QEMU's isa-debug-exit ends QEMU).
///
///     nasm -f bin svm.asm -o svm.bin
///     cp svm.bin boot.img
///     timeout 30 qemu-system-x86_64 -accel tcg -cpu max -nographic \
///         -drive format=raw,file=boot.img \
///         -device isa-debug-exit,iobase=0xf4,iosize=1 \
///         -serial file:qemu-serial.log -monitor none
///
/// and for Bochs the image padded to 1474560 bytes (`svm-floppy.img`) with
///
///     megs: 64
///     cpu: model=ryzen
///     romimage: file=/usr/share/bochs/BIOS-bochs-latest
///     vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
///     display_library: sdl2
///     floppya: 1_44=/tmp/svmcap/svm-floppy.img, status=inserted
///     boot: floppy
///     com1: enabled=1, mode=file, dev=/tmp/svmcap/bochs-serial.log
///     log: /tmp/svmcap/bochs.log
///
///     SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy timeout 60 \
///         bochs -f bochsrc -q -rc rc          # rc holds the line "c"
///
/// The logs below are the COM1 output verbatim (CRLF turned into LF; the
/// QEMU log is preceded by SeaBIOS's banner, left out). No RDMSR raised #GP
/// on either: VM_CR and VM_HSAVE_PA read 0 (SVMDIS = 0, not locked).
enum AMDModels {
    static let qemuMaxSerialLog = """
        cpuid 00000000=0000000d 68747541 444d4163 69746e65
        cpuid 00000001=00060fb1 00000800 f6d8320b 0fcbfbfd
        cpuid 80000000=8000000a 68747541 444d4163 69746e65
        cpuid 80000001=00060fb1 00000000 00000075 edd3fbfd
        cpuid 8000000a=00000001 00000010 00000000 10010001
        cpuid 80000008=00003928 00000000 00000000 00000000
        msr c0000080=0000000000000000
        msr c0010114=0000000000000000
        msr c0010117=0000000000000000
        end
        """

    static let bochsRyzenSerialLog = """
        cpuid 00000000=0000000d 68747541 444d4163 69746e65
        cpuid 00000001=00800f11 00010800 76d8320b 178bfbff
        cpuid 80000000=8000001f 68747541 444d4163 69746e65
        cpuid 80000001=00800f11 20000000 35c223ff 2fd3fbff
        cpuid 8000000a=00000001 00008000 00000000 0000044f
        cpuid 80000008=00003028 00000001 00000000 00000000
        msr c0000080=0000000000000000
        msr c0010114=0000000000000000
        msr c0010117=0000000000000000
        end
        """

    /// A serial log parsed into CPUID leaves and MSR values.
    struct Capture {
        var leaves: [UInt32: CPUIDResult] = [:]
        var msrs: [UInt32: UInt64] = [:]

        var cpu: FakeCPUID { FakeCPUID(leaves: leaves) }
        var msrAccess: FakeMSRs { FakeMSRs(msrs) }
    }

    static func parse(_ log: String) -> Capture {
        var capture = Capture()
        for line in log.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "="), let space = line.firstIndex(of: " "), space < equals else { continue }
            let key = line[line.index(after: space)..<equals]
            let value = line[line.index(after: equals)...]
            if line.hasPrefix("cpuid "), let leaf = UInt32(key, radix: 16) {
                let words = value.split(separator: " ").compactMap { UInt32($0, radix: 16) }
                if words.count == 4 {
                    capture.leaves[leaf] = CPUIDResult(eax: words[0], ebx: words[1], ecx: words[2], edx: words[3])
                }
            } else if line.hasPrefix("msr "), let number = UInt32(key, radix: 16), let msr = UInt64(value, radix: 16) {
                capture.msrs[number] = msr
            }
        }
        return capture
    }

    static var qemuMax: Capture { parse(qemuMaxSerialLog) }
    static var bochsRyzen: Capture { parse(bochsRyzenSerialLog) }
}

// The capture program (/tmp/svmcap/svm.asm; `nasm -f bin svm.asm -o svm.bin`):
//
//     bits 16
//     org 0x7C00
//     start:
//         cli
//         xor ax, ax
//         mov ds, ax
//         mov es, ax
//         mov ss, ax
//         mov sp, 0x7C00
//         mov word [13*4], gp_handler      ; #GP (vector 13) -> skip the rdmsr
//         mov word [13*4+2], 0
//         mov dx, 0x3FB                    ; 16550: 115200 8N1
//         mov al, 0x80
//         out dx, al
//         mov dx, 0x3F8
//         mov al, 1
//         out dx, al
//         inc dx
//         xor al, al
//         out dx, al
//         mov dx, 0x3FB
//         mov al, 3
//         out dx, al
//         mov di, leaves
//     .leaf:
//         mov eax, [di]
//         cmp eax, 0xFFFFFFFF
//         je .msrs
//         mov si, s_cpuid
//         call puts
//         mov eax, [di]
//         call hex32
//         mov al, '='
//         call putc
//         mov eax, [di]
//         xor ecx, ecx
//         cpuid
//         push edx
//         push ecx
//         push ebx
//         call hex32                       ; EAX, then EBX ECX EDX
//         mov cx, 3
//     .reg:
//         mov al, ' '
//         call putc
//         pop eax
//         call hex32
//         loop .reg
//         call nl
//         add di, 4
//         jmp .leaf
//     .msrs:
//         mov di, msrs
//     .next:
//         mov ecx, [di]
//         test ecx, ecx
//         jz .done
//         mov si, s_msr
//         call puts
//         mov eax, ecx
//         call hex32
//         mov al, '='
//         call putc
//         mov byte [gpflag], 0
//         rdmsr
//         cmp byte [gpflag], 0
//         jne .gp
//         push eax
//         mov eax, edx
//         call hex32
//         pop eax
//         call hex32
//         jmp .eol
//     .gp:
//         mov si, s_gp
//         call puts
//     .eol:
//         call nl
//         add di, 4
//         jmp .next
//     .done:
//         mov si, s_end
//         call puts
//         mov dx, 0x8900                   ; Bochs shutdown port
//         mov si, s_shutdown
//     .sd:
//         lodsb
//         test al, al
//         jz .qemu
//         out dx, al
//         jmp .sd
//     .qemu:
//         mov al, 0                        ; QEMU isa-debug-exit at 0xF4
//         out 0xF4, al
//     .halt:
//         hlt
//         jmp .halt
//     gp_handler:
//         push bp
//         mov bp, sp
//         add word [bp+2], 2               ; rdmsr is 0F 32
//         mov byte [cs:gpflag], 1
//         pop bp
//         iret
//     hex32:                               ; EAX as 8 hex digits
//         push cx
//         mov cx, 8
//     .h:
//         rol eax, 4
//         push eax
//         and al, 0x0F
//         add al, '0'
//         cmp al, '9'
//         jbe .d
//         add al, 'a' - '9' - 1
//     .d:
//         call putc
//         pop eax
//         loop .h
//         pop cx
//         ret
//     nl:
//         mov al, 13
//         call putc
//         mov al, 10
//     putc:                                ; wait for THR empty, write AL
//         push dx
//         push ax
//         mov dx, 0x3FD
//     .w:
//         in al, dx
//         test al, 0x20
//         jz .w
//         pop ax
//         mov dx, 0x3F8
//         out dx, al
//         pop dx
//         ret
//     puts:
//         lodsb
//         test al, al
//         jz .r
//         call putc
//         jmp puts
//     .r:
//         ret
//     gpflag: db 0
//     s_cpuid: db "cpuid ", 0
//     s_msr: db "msr ", 0
//     s_gp: db "GP", 0
//     s_end: db "end", 13, 10, 0
//     s_shutdown: db "Shutdown", 0
//     leaves:
//         dd 0, 1, 0x80000000, 0x80000001, 0x8000000A, 0x80000008, 0xFFFFFFFF
//     msrs:
//         dd 0xC0000080, 0xC0010114, 0xC0010117
//         dd 0
//         times 510 - ($ - $$) db 0
//         dw 0xAA55
