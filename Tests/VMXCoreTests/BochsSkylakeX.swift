@testable import VMXCore

/// CPUID leaf 1 and MSR values of the Bochs 2.7 `corei7_skylake_x` CPU model
/// (Debian package bochs 2.7+dfsg-4+deb12u1), captured empirically.
///
/// How: a 512-byte real-mode boot sector (NASM, `-f bin`, source at the end
/// of this file) points IVT vector 13 (#GP) at a handler that skips the
/// 2-byte RDMSR and flags it, sets COM1 to 115200 8N1, prints CPUID.1
/// (EAX EBX ECX EDX), CR0 and CR4, then `msr NNNNNNNN=EDX:EAX` (or `GP`)
/// for each MSR in its table, and writes "Shutdown" to port 0x8900 so that
/// Bochs exits. The image was padded to 1474560 bytes and booted as a
/// floppy with:
///
///     megs: 64
///     cpu: model=corei7_skylake_x
///     romimage: file=/usr/share/bochs/BIOS-bochs-latest
///     vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
///     display_library: sdl2
///     floppya: 1_44=/tmp/msr.img, status=inserted
///     boot: floppy
///     com1: enabled=1, mode=file, dev=/tmp/msr-serial.log
///     log: /tmp/msr-bochs.log
///
///     SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy timeout 60 \
///         bochs -f bochsrc -q -rc rc          # rc holds the line "c"
///
/// `serialLog` is the COM1 output verbatim. No RDMSR raised #GP; Bochs
/// logged "RDMSR: Unknown register 0x1d9" (IA32_DEBUGCTL is not implemented
/// and reads 0). IA32_FEATURE_CONTROL comes out of reset locked with VMX
/// outside SMX enabled (0x5). Bochs's own log shows the same CPUID.1 line.
enum BochsSkylakeX {
    static let serialLog = """
        cpuid1 eax ebx ecx edx=00050654 00010800 77faf3bf bfebfbff
        cr0 cr4=60000010 00000000
        msr 0000003a=0000000000000005
        msr 00000480=00d810000000002b
        msr 00000481=0000007f00000016
        msr 00000482=f7f9fffe0401e172
        msr 00000483=007fffff00036dff
        msr 00000484=0000ffff000011ff
        msr 00000485=00000000600401e0
        msr 00000486=0000000080000021
        msr 00000487=00000000ffffffff
        msr 00000488=0000000000002000
        msr 00000489=00000000003727ff
        msr 0000048a=0000000000000034
        msr 0000048b=02177fff00000000
        msr 0000048c=00000f0106334141
        msr 0000048d=0000007f00000016
        msr 0000048e=f7f9fffe04006172
        msr 0000048f=007fffff00036dfb
        msr 00000490=0000ffff000011fb
        msr 00000491=0000000000000001
        msr 000001d9=0000000000000000
        msr 00000277=0007040600070406
        msr 00000174=0000000000000000
        msr 00000175=0000000000000000
        msr 00000176=0000000000000000
        msr c0000080=0000000000000000
        msr c0000100=0000000000000000
        msr c0000101=0000000000000000
        msr c0000102=0000000000000000
        end
        """

    /// CPUID.1 (EAX, EBX, ECX, EDX). ECX bit 5 (VMX) is 1, bit 31 is 0.
    static let cpuidLeaf1 = CPUIDResult(eax: 0x0005_0654, ebx: 0x0001_0800, ecx: 0x77FA_F3BF, edx: 0xBFEB_FBFF)

    /// The same values as `serialLog`, written out (a test checks they agree).
    static let msrValues: [UInt32: UInt64] = [
        0x3A: 0x0000_0000_0000_0005,  // IA32_FEATURE_CONTROL: lock | VMX outside SMX
        0x480: 0x00D8_1000_0000_002B,  // IA32_VMX_BASIC: rev 0x2b, 4096 B, WB, INS/OUTS, TRUE ctls
        0x481: 0x0000_007F_0000_0016,  // IA32_VMX_PINBASED_CTLS
        0x482: 0xF7F9_FFFE_0401_E172,  // IA32_VMX_PROCBASED_CTLS
        0x483: 0x007F_FFFF_0003_6DFF,  // IA32_VMX_EXIT_CTLS
        0x484: 0x0000_FFFF_0000_11FF,  // IA32_VMX_ENTRY_CTLS
        0x485: 0x0000_0000_6004_01E0,  // IA32_VMX_MISC: rate 0, HLT/shutdown/SIPI, 4 CR3 targets
        0x486: 0x0000_0000_8000_0021,  // IA32_VMX_CR0_FIXED0: PE NE PG
        0x487: 0x0000_0000_FFFF_FFFF,  // IA32_VMX_CR0_FIXED1
        0x488: 0x0000_0000_0000_2000,  // IA32_VMX_CR4_FIXED0: VMXE
        0x489: 0x0000_0000_0037_27FF,  // IA32_VMX_CR4_FIXED1
        0x48A: 0x0000_0000_0000_0034,  // IA32_VMX_VMCS_ENUM: highest index 0x1a
        0x48B: 0x0217_7FFF_0000_0000,  // IA32_VMX_PROCBASED_CTLS2
        0x48C: 0x0000_0F01_0633_4141,  // IA32_VMX_EPT_VPID_CAP
        0x48D: 0x0000_007F_0000_0016,  // IA32_VMX_TRUE_PINBASED_CTLS
        0x48E: 0xF7F9_FFFE_0400_6172,  // IA32_VMX_TRUE_PROCBASED_CTLS
        0x48F: 0x007F_FFFF_0003_6DFB,  // IA32_VMX_TRUE_EXIT_CTLS
        0x490: 0x0000_FFFF_0000_11FB,  // IA32_VMX_TRUE_ENTRY_CTLS
        0x491: 0x0000_0000_0000_0001,  // IA32_VMX_VMFUNC: EPTP switching
        0x1D9: 0,  // IA32_DEBUGCTL (not implemented by Bochs)
        0x277: 0x0007_0406_0007_0406,  // IA32_PAT (power-on default)
        0x174: 0, 0x175: 0, 0x176: 0,  // IA32_SYSENTER_CS/ESP/EIP
        0xC000_0080: 0,  // IA32_EFER
        0xC000_0100: 0, 0xC000_0101: 0, 0xC000_0102: 0,  // FS/GS/KERNEL_GS base
    ]

    static var msrs: FakeMSRs { FakeMSRs(msrValues) }
    static var cpu: FakeCPUID { FakeCPUID(leaves: [1: cpuidLeaf1]) }

    /// `serialLog` parsed: the CPUID.1 line and the `msr` lines.
    static func parseSerialLog() -> (cpuid: CPUIDResult?, msrs: [UInt32: UInt64]) {
        var cpuid: CPUIDResult?
        var msrs: [UInt32: UInt64] = [:]
        for line in serialLog.split(separator: "\n") {
            if line.hasPrefix("cpuid1 "), let equals = line.firstIndex(of: "=") {
                let words = line[line.index(after: equals)...].split(separator: " ").compactMap { UInt32($0, radix: 16) }
                if words.count == 4 { cpuid = CPUIDResult(eax: words[0], ebx: words[1], ecx: words[2], edx: words[3]) }
            } else if line.hasPrefix("msr "), let equals = line.firstIndex(of: "=") {
                let number = UInt32(line[line.index(line.startIndex, offsetBy: 4)..<equals], radix: 16)
                let value = UInt64(line[line.index(after: equals)...], radix: 16)
                if let number, let value { msrs[number] = value }
            }
        }
        return (cpuid, msrs)
    }
}

// The capture program (/tmp/msrcap/msr.asm; `nasm -f bin msr.asm -o msr.bin`):
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
//         mov si, s_cpuid
//         call puts
//         mov eax, 1
//         xor ecx, ecx
//         cpuid
//         push edx
//         push ecx
//         push ebx
//         call hex32                       ; EAX, then EBX ECX EDX
//         mov al, ' '
//         call putc
//         pop eax
//         call hex32
//         mov al, ' '
//         call putc
//         pop eax
//         call hex32
//         mov al, ' '
//         call putc
//         pop eax
//         call hex32
//         call nl
//         mov si, s_cr
//         call puts
//         mov eax, cr0
//         call hex32
//         mov al, ' '
//         call putc
//         mov eax, cr4
//         call hex32
//         call nl
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
//         jz .halt
//         out dx, al
//         jmp .sd
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
//     s_cpuid: db "cpuid1 eax ebx ecx edx=", 0
//     s_cr: db "cr0 cr4=", 0
//     s_msr: db "msr ", 0
//     s_gp: db "GP", 0
//     s_end: db "end", 13, 10, 0
//     s_shutdown: db "Shutdown", 0
//     msrs:
//         dd 0x3A, 0x480, 0x481, 0x482, 0x483, 0x484, 0x485, 0x486, 0x487, 0x488, 0x489
//         dd 0x48A, 0x48B, 0x48C, 0x48D, 0x48E, 0x48F, 0x490, 0x491
//         dd 0x1D9, 0x277, 0x174, 0x175, 0x176, 0xC0000080, 0xC0000100, 0xC0000101, 0xC0000102
//         dd 0
//         times 510 - ($ - $$) db 0
//         dw 0xAA55
