; pxHV built-in test guest: real mode.
;
; Contract: Guest/README.md. The hypervisor loads this flat binary at GPA
; 0x10000 and starts it in real mode (unrestricted guest) at CS=0x1000, IP=0,
; SS=0x1000, SP=0xFFF0, interrupts off. Every check is reported with
; hypercall 2 (`check`); the hypervisor prints PASS/FAIL and counts them.
; The guest ends with hypercall 4 (power off, status 0). An exception it does
; not expect is reported as the FAIL check "real: unexpected exception N" and
; ends the guest with status 1.
;
; Why VMCALL works here: Intel SDM Vol. 2B, "VMCALL—Call to VM Monitor": in
; VMX non-root operation VMCALL causes a VM exit in every mode (the #UD for
; real mode applies only outside VMX operation), so a real-mode guest can
; use the hypercall ABI. The ABI registers are RAX..RDX; in real mode the
; hypervisor reads EAX..EDX zero-extended, so this guest uses 32-bit
; registers (operand-size prefixes) throughout.
;
; Assemble: nasm -f bin -o real.bin Guest/test/real.asm

BITS 16
ORG 0

GUEST_SEG       equ 0x1000
GUEST_BASE      equ GUEST_SEG * 16      ; GPA of offset 0 (strings: GPA = base + offset)

HC_WRITE        equ 1                   ; RBX = GPA, RCX = length
HC_CHECK        equ 2                   ; RBX = pass, RCX = name GPA, RDX = length
HC_EXIT_COUNT   equ 3                   ; RBX = basic exit reason or 0xFFFF
HC_POWER_OFF    equ 4                   ; RBX = status
HC_UNKNOWN      equ 0x1234              ; no such function
ALL_EXITS       equ 0xFFFF
EXIT_CPUID      equ 10                  ; basic exit reason "CPUID" (SDM Vol. 3C, App. C)

HV_MEMORY_GPA   equ 0x200000            ; hypervisor memory (Guest/README.md)
MSR_FEATURE_CONTROL equ 0x3A
MSR_VMX_BASIC   equ 0x480
MSR_UNKNOWN     equ 0x40001000          ; outside 0x0-0x1FFF and 0xC0000000-0xC0001FFF

VEC_GP          equ 13

%include "hypercall.inc"
%include "check-name.inc"

; ---------------------------------------------------------------------------
; Macros
; ---------------------------------------------------------------------------

; CHECK cc, "name": report a check that passes if condition code `cc` (as in
; Jcc/SETcc: e, ne, c, nc, a, ae, ...) holds on the current flags.
; Clobbers EAX, EBX, ECX, EDX.
%macro CHECK 2
        CHECK_NAME %2
        mov ebx, 0                      ; MOV leaves the flags alone
        set%1 bl
        mov ecx, GUEST_BASE + check_name
        mov edx, check_name_len
        call hc_check
%endmacro

; PRINT `text`: hypercall 1 (write); EAX = the result. Clobbers EAX, EBX, ECX.
%macro PRINT 1
[section .data]
%%text: db %1
%%len   equ $ - %%text
__SECT__
        mov ebx, GUEST_BASE + %%text
        mov ecx, %%len
        mov eax, HC_WRITE
        HYPERCALL
%endmacro

; EXIT_COUNT reason: EAX = VM exits so far for that basic reason (or all).
%macro EXIT_COUNT 1
        mov ebx, %1
        mov eax, HC_EXIT_COUNT
        HYPERCALL
%endmacro

; ---------------------------------------------------------------------------
; Code
; ---------------------------------------------------------------------------
section .text

start:
        cli
        cld
        mov ax, cs
        mov ds, ax
        HYPERCALL_SELECT
        call install_ivt

        ; -- hypercall 1: write (also a banner for the log) ------------------
        PRINT `pxhv-guest: real mode up\n`
        test eax, eax
        CHECK e, "real: hypercall write returns 0"

        ; -- port 0xE9: the debug console, one OUT (one I/O exit) per byte ---
        mov si, hello_e9
        mov cx, hello_e9_len
.e9:    lodsb
        out 0xE9, al
        loop .e9

        ; -- CPUID leaf 1: hypervisor present, VMX hidden -------------------
        mov eax, 1
        xor ecx, ecx
        cpuid
        mov esi, ecx
        bt esi, 31
        CHECK c, "real: cpuid hypervisor bit"
        bt esi, 5
        CHECK nc, "real: cpuid vmx hidden"

        ; -- CPUID leaf 0x40000000: "pxHVpxHVpxHV", highest leaf -----------
        mov eax, 0x40000000
        xor ecx, ecx
        cpuid
        mov esi, eax
        ; A chain of compares that jumps to the CHECK on the first mismatch:
        ; then ZF=0 (fail); falling through, ZF is that of the last compare.
        cmp ebx, 'pxHV'
        jne .sig
        cmp ecx, 'pxHV'
        jne .sig
        cmp edx, 'pxHV'
.sig:   CHECK e, "real: cpuid 0x40000000 signature pxHVpxHVpxHV"
        cmp esi, 0x40000001
        CHECK ae, "real: cpuid 0x40000000 eax >= 0x40000001"

        mov eax, 0x40000001
        xor ecx, ecx
        cpuid
        cmp eax, 1
        CHECK e, "real: cpuid 0x40000001 abi version 1"

        ; -- hypercall 3: the exit counters move across a CPUID ------------
        ; All exits: the CPUID exit plus the second VMCALL itself ("this call
        ; included"), so at least +2. CPUID exits: exactly +1 (the reads are
        ; VMCALL exits, not CPUID exits).
        EXIT_COUNT ALL_EXITS
        mov esi, eax
        EXIT_COUNT EXIT_CPUID
        mov edi, eax
        xor eax, eax
        cpuid
        EXIT_COUNT EXIT_CPUID
        sub eax, edi
        mov edi, eax                    ; EDI = CPUID exits across one CPUID
        EXIT_COUNT ALL_EXITS
        sub eax, esi
        cmp eax, 2
        CHECK ae, "real: exit count increases across cpuid"
        cmp edi, 1
        CHECK e, "real: cpuid exit count +1 per cpuid"

        ; -- VMCALL preserves every register but RAX -------------------------
        mov ebx, ALL_EXITS
        mov ecx, 0x11223344
        mov edx, 0x55667788
        mov esi, 0x99AABBCC
        mov edi, 0xDDEEFF00
        mov ebp, 0x0F1E2D3C
        mov eax, HC_EXIT_COUNT
        HYPERCALL
        cmp ebx, ALL_EXITS
        jne .regs
        cmp ecx, 0x11223344
        jne .regs
        cmp edx, 0x55667788
        jne .regs
        cmp esi, 0x99AABBCC
        jne .regs
        cmp edi, 0xDDEEFF00
        jne .regs
        cmp ebp, 0x0F1E2D3C
.regs:  CHECK e, "real: vmcall preserves ebx ecx edx esi edi ebp"
        xor ebp, ebp

        ; -- MSRs (Guest/README.md "MSRs") ----------------------------------
        ; VMX capability MSR: the guest's CPU has no VMX, so #GP.
        mov byte [gp_count], 0
        mov ecx, MSR_VMX_BASIC
        rdmsr
        cmp byte [gp_count], 1
        CHECK e, "real: rdmsr 0x480 (vmx basic) raises #GP"

        ; Outside the architectural ranges: #GP.
        mov byte [gp_count], 0
        mov ecx, MSR_UNKNOWN
        rdmsr
        cmp byte [gp_count], 1
        CHECK e, "real: rdmsr 0x40001000 raises #GP"

        ; IA32_FEATURE_CONTROL reads as locked, VMX off.
        mov byte [gp_count], 0
        mov ecx, MSR_FEATURE_CONTROL
        mov eax, 0xDEADBEEF
        mov edx, 0xDEADBEEF
        rdmsr
        cmp byte [gp_count], 0
        jne .fc
        cmp eax, 1
        jne .fc
        cmp edx, 0
.fc:    CHECK e, "real: rdmsr 0x3a reads 1"

        ; ... and a write (here: lock + VMX outside SMX) raises #GP.
        mov byte [gp_count], 0
        mov ecx, MSR_FEATURE_CONTROL
        mov eax, 5
        xor edx, edx
        wrmsr
        cmp byte [gp_count], 1
        CHECK e, "real: wrmsr 0x3a raises #GP"

        ; -- Hypercall argument checks: refused, the guest keeps running -----
        mov eax, HC_UNKNOWN
        HYPERCALL
        cmp eax, 0xFFFFFFFF
        CHECK e, "real: unknown hypercall returns all ones"

        mov ebx, HV_MEMORY_GPA
        mov ecx, 16
        mov eax, HC_WRITE
        HYPERCALL
        cmp eax, 0xFFFFFFFF
        CHECK e, "real: write from hypervisor memory refused"

        mov ebx, GUEST_BASE + hello_e9
        mov ecx, 4097
        mov eax, HC_WRITE
        HYPERCALL
        cmp eax, 0xFFFFFFFF
        CHECK e, "real: write longer than 4096 refused"

        ; -- done ----------------------------------------------------------
        PRINT `pxhv-guest: real mode done\n`
        xor ebx, ebx
        mov eax, HC_POWER_OFF
        HYPERCALL
        ; Power off must not return.
        mov ebx, 0
        mov ecx, GUEST_BASE + msg_poweroff_returned
        mov edx, msg_poweroff_returned_len
        call hc_check
        jmp triple_fault

; hc_check: EBX = 1 pass / 0 fail, ECX = name GPA, EDX = length.
hc_check:
        mov eax, HC_CHECK
        HYPERCALL
        ret

; install_ivt: point vectors 0-31 at our handlers (segment GUEST_SEG).
; Vector 13 (#GP) gets gp_handler, every other one an "unexpected" stub.
install_ivt:
        push es
        xor ax, ax
        mov es, ax
        xor di, di                      ; IVT at linear 0: 4 bytes per vector
        mov si, ivt_table
        mov cx, 32
.next:  lodsw
        stosw                           ; offset
        mov ax, cs
        stosw                           ; segment
        loop .next
        pop es
        ret

; #GP (vector 13). Real mode pushes FLAGS, CS, IP and no error code; the
; injected #GP is a fault, so IP points at the faulting instruction. The
; RDMSR/WRMSR tests expect it: count it and skip the 2-byte instruction
; (0F 32 / 0F 30). A #GP anywhere else is unexpected.
gp_handler:
        push bp
        mov bp, sp
        push ds
        push si
        push ax
        lds si, [bp + 2]                ; DS:SI = faulting CS:IP
        mov ax, [si]
        cmp ax, 0x320F                  ; RDMSR
        je .skip
        cmp ax, 0x300F                  ; WRMSR
        je .skip
        pop ax
        pop si
        pop ds
        pop bp
        push word VEC_GP
        jmp rm_unexpected
.skip:  add word [bp + 2], 2
        inc byte [cs:gp_count]
        pop ax
        pop si
        pop ds
        pop bp
        iret

; Stubs for the other vectors: push the vector number and report.
%assign v 0
%rep 32
%if v != VEC_GP
exc_stub_ %+ v:
        push word v
        jmp rm_unexpected
%endif
%assign v v+1
%endrep

; rm_unexpected: [SP] = vector. Report FAIL "real: unexpected exception N",
; power off with status 1.
rm_unexpected:
        cli
        mov ax, cs
        mov ds, ax
        mov es, ax
        pop ax                          ; vector (0..31)
        mov di, unexpected_digits
        aam                             ; AH = AL / 10, AL = AL % 10
        test ah, ah
        jz .ones
        xchg al, ah
        add al, '0'
        stosb
        mov al, ah
.ones:  add al, '0'
        stosb
        mov ebx, 0
        mov ecx, GUEST_BASE + unexpected_name
        movzx edx, di
        sub dx, unexpected_name
        call hc_check
        mov ebx, 1
        mov eax, HC_POWER_OFF
        HYPERCALL
        ; fall through if power off returns

; triple_fault: last resort when power off does not end the guest. With an
; IVT limit of 0 any interrupt raises #GP, which cannot be delivered either:
; #DF, then shutdown (a triple-fault exit for the hypervisor).
triple_fault:
        cli
        lidt [null_ivt]
        int3
        jmp triple_fault

; ---------------------------------------------------------------------------
; Data (a separate section, after the code; still inside segment 0x1000)
; ---------------------------------------------------------------------------
section .data

ivt_table:
%assign v 0
%rep 32
%if v == VEC_GP
        dw gp_handler
%else
        dw exc_stub_ %+ v
%endif
%assign v v+1
%endrep

null_ivt:
        dw 0
        dd 0

hello_e9:       db `pxhv-guest: hello from real mode via port 0xE9\n`
hello_e9_len    equ $ - hello_e9

msg_poweroff_returned:      db "real: power off returned"
msg_poweroff_returned_len   equ $ - msg_poweroff_returned

unexpected_name:    db "real: unexpected exception "
unexpected_digits:  db "00"

gp_count:       db 0                    ; #GPs taken by gp_handler

; Every HYPERCALL site above, for HYPERCALL_SELECT (Guest/include/hypercall.inc).
section .data
HYPERCALL_SITES
