; pxHV SMP test guest: the boot CPU starts every other CPU itself.
;
; Contract: Guest/README.md ("The SMP test guest"). The hypervisor loads
; this flat binary at GPA 0x100000 and starts the boot CPU (BSP) as the
; 64-bit test guest (RIP 0x100000, RSP 0x1F0000, identity paging of 4 GiB
; at CR3 0x70000); under VT-x every other CPU is a vCPU in the INIT state,
; waiting for a start-up IPI.
;
; The BSP:
; 1. copies the AP trampoline to 0x8000 (SIPI vector 0x08),
; 2. finds the ACPI MADT (RSDP in the EBDA or 0xE0000-0xFFFFF, then the
;    RSDT/XSDT) and lists the enabled local APICs other than its own,
; 3. starts each AP with INIT, SIPI, SIPI through the xAPIC ICR at
;    0xFEE00300 (Intel SDM Vol. 3A, "MP Initialization Protocol Algorithm
;    for MP Systems"; the second SIPI only if the first did not start it),
;    waiting for each to reach long mode before the next (they share the
;    trampoline's stack),
; 4. waits for every AP's LOCK increment of a shared counter, checks it,
;    prints `pxhv-guest: cpus N` and powers off (hypercall 4).
;
; Each AP, in real mode at 0800:0000: checks the INIT state it was started
; in (CS:IP from the SIPI vector, EDX = the processor signature, CR0 = CD
; NW ET, EFLAGS = 2, DS = SS = 0, EFER = 0) with hypercall 2; switches
; straight to long mode (PAE, the BSP's CR3, EFER.LME, CR0.PG|PE, a far
; jump); checks long mode, its APIC ID (local APIC register = CPUID's
; initial APIC ID, listed in the MADT), prints `pxhv-guest: cpu <APIC ID>
; up` (the line buffer under a guest spinlock), increments the counter with
; LOCK and halts with interrupts on (nothing interrupts it; the hypervisor
; stops it when the BSP powers off).
;
; Assemble: nasm -f bin -I Guest/include/ -o smp.bin Guest/smp/smp.asm

BITS 64
DEFAULT REL
ORG 0x100000

HC_WRITE        equ 1
HC_CHECK        equ 2
HC_POWER_OFF    equ 4

LAPIC_ID        equ 0xFEE00020          ; xAPIC ID register: bits 31:24
LAPIC_ICR_LOW   equ 0xFEE00300
LAPIC_ICR_HIGH  equ 0xFEE00310
ICR_INIT        equ 0x4500              ; delivery mode INIT, level assert
ICR_STARTUP     equ 0x4600              ; delivery mode start-up (| vector)
ICR_PENDING     equ 1 << 12             ; delivery status: send pending

TRAMPOLINE      equ 0x8000              ; below 1 MiB, guest RAM
SIPI_VECTOR     equ TRAMPOLINE >> 12
REAL_STACK      equ 0x7000              ; the trampoline's stack (one AP at a time)
AP_STACKS_TOP   equ 0x1E0000            ; AP n (start order): top - n * 0x1000
MAX_APS         equ 16

INIT_WAIT       equ 1000000             ; TSC ticks after INIT (the SDM's 10 ms on hardware;
SIPI_WAIT       equ 200000              ; an AP's vCPU reacts at once) and after the first SIPI
START_TIMEOUT   equ 200000000           ; TSC ticks for an AP to reach long mode (2 s under Bochs)
HV_MEMORY_GPA   equ 0x200000            ; hypervisor memory (Guest/README.md)
DONE_TIMEOUT    equ 400000000           ; ... for every AP's increment (4 s under Bochs)

CR0_PE          equ 1
CR0_ET          equ 1 << 4
CR0_NW          equ 1 << 29
CR0_CD          equ 1 << 30
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xC0000080
EFER_LME        equ 1 << 8
EFER_LMA        equ 1 << 10

LINE_MAX        equ 120

%define LINE_TEXT_SECTION .data
%include "check.inc"
%include "line-macros.inc"

; The sections, declared before any macro switches to one: .tramp is
; assembled for 0x8000 but stored after .text.
SECTION .text
SECTION .tramp follows=.text vstart=TRAMPOLINE align=16
SECTION .data follows=.tramp align=8
SECTION .bss follows=.data align=8

SECTION .text
start:
        ; The trampoline first: HYPERCALL_SELECT patches its sites at 0x8000.
        lea rsi, [section..tramp.start]
        mov edi, TRAMPOLINE
        mov ecx, tramp_end - tramp_begin
        rep movsb
        mov rax, cr3
        mov [t_cr3], eax                ; the copy's (0x8000-based label)
        HYPERCALL_SELECT

        mov edx, LAPIC_ID               ; above 2 GiB: by register, not RIP-relative
        mov eax, [rdx]
        shr eax, 24
        mov [bsp_apic_id], eax

        call find_madt                  ; RSI = MADT or 0
        test rsi, rsi
        CHECK nz, "smp: ACPI MADT found"
        test rsi, rsi
        jz .finish
        call list_aps

        call lock_line
        call line_reset
        LINE "pxhv-guest: smp: MADT lists "
        mov eax, [ap_count]
        inc eax
        LINE_DEC rax
        LINE " enabled CPUs, BSP APIC ID "
        mov eax, [bsp_apic_id]
        LINE_DEC rax
        LINE `\n`
        call line_flush
        call unlock_line

        xor r12d, r12d                  ; R12 = index of the AP being started
.next_ap:
        cmp r12d, [ap_count]
        jae .all_sent
        mov r13d, [ap_ids + r12 * 4]    ; R13 = its APIC ID
        mov eax, ICR_INIT
        call send_ipi
        mov rax, INIT_WAIT
        call wait_ticks
        mov eax, ICR_STARTUP | SIPI_VECTOR
        call send_ipi
        mov rax, SIPI_WAIT
        call wait_ticks
        lea eax, [r12 + 1]
        cmp [ap_started], eax
        jae .started
        mov eax, ICR_STARTUP | SIPI_VECTOR
        call send_ipi
.started:
        lea r14d, [r12 + 1]             ; wait for it in long mode
        mov r15, START_TIMEOUT
        call wait_for_started
        inc r12d
        jmp .next_ap

.all_sent:
        ; Every AP's LOCK increment.
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r15, rax
.wait_done:
        mov eax, [ap_done]
        cmp eax, [ap_count]
        jae .counted
        pause
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r15
        mov rcx, DONE_TIMEOUT
        cmp rax, rcx
        jb .wait_done
.counted:
%ifdef AP_ATTACK
        ; The attack build: the first AP reads hypervisor memory; pxHV must
        ; stop the guest on every CPU, this one included, and report it
        ; with the AP's number (Tests/EndToEndTests/SMPBoots.swift). This
        ; CPU waits to be stopped; if it is not, the check below fails and
        ; the guest powers off as usual.
        mov dword [ap_attack], 1
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r15, rax
.attacked:
        pause
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r15
        mov rcx, DONE_TIMEOUT
        cmp rax, rcx
        jb .attacked
        cmp eax, eax
        CHECK ne, "smp: the guest is still running after an AP read hypervisor memory"
%endif
        mov eax, [ap_done]
        cmp eax, [ap_count]
        CHECK e, "smp: every AP started and incremented the shared counter with LOCK"
        mov eax, [ap_started]
        cmp eax, [ap_count]
        CHECK e, "smp: every AP the MADT lists reached long mode"

        call lock_line
        call line_reset
        LINE "pxhv-guest: cpus "
        mov eax, [ap_done]
        inc eax
        LINE_DEC rax
        LINE `\n`
        call line_flush
        call unlock_line

.finish:
        xor ebx, ebx
        mov eax, HC_POWER_OFF
        HYPERCALL
        cli
        hlt

; send_ipi: EAX = ICR low, R13D = destination APIC ID; waits until the
; local APIC has sent it.
send_ipi:
        mov ecx, r13d
        shl ecx, 24
        mov edx, LAPIC_ICR_HIGH
        mov [rdx], ecx
        mov edx, LAPIC_ICR_LOW
        mov [rdx], eax
.pending:
        test dword [rdx], ICR_PENDING
        jz .sent
        pause
        jmp .pending
.sent:  ret

; wait_ticks: RAX TSC ticks.
wait_ticks:
        mov rcx, rax
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r8, rax
.spin:  pause
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r8
        cmp rax, rcx
        jb .spin
        ret

; wait_for_started: until ap_started >= R14D or R15 TSC ticks passed.
wait_for_started:
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r8, rax
.spin:  cmp [ap_started], r14d
        jae .done
        pause
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r8
        cmp rax, r15
        jb .spin
.done:  ret

; find_madt: RSI = the MADT, or 0. The RSDP is on a 16-byte boundary in
; the EBDA's first KiB or in 0xE0000-0xFFFFF, its first 20 bytes summing
; to 0 (ACPI 6.5, "Finding the RSDP on IA-PC Systems"); revision >= 2 with
; an XSDT: its 8-byte entries, else the RSDT's 4-byte ones.
find_madt:
        movzx esi, word [abs 0x40E]       ; the EBDA's segment (BDA)
        shl esi, 4
        lea edi, [rsi + 1024]
        call scan_rsdp
        test rsi, rsi
        jnz .found
        mov esi, 0xE0000
        mov edi, 0x100000
        call scan_rsdp
        test rsi, rsi
        jz .none
.found:
        mov rbx, rsi                    ; RBX = RSDP
        cmp byte [rbx + 15], 2
        jb .rsdt
        mov rdx, [rbx + 24]
        test rdx, rdx
        jz .rsdt
        mov r8d, 8                      ; XSDT
        jmp .walk
.rsdt:  mov edx, [rbx + 16]
        mov r8d, 4
.walk:  mov ecx, [rdx + 4]              ; table length
        lea r9, [rdx + rcx]             ; end
        lea r10, [rdx + 36]             ; first entry
.entry: cmp r10, r9
        jae .none
        cmp r8d, 8
        jne .entry32
        mov rsi, [r10]
        jmp .check
.entry32:
        mov esi, [r10]
.check: cmp dword [rsi], 'APIC'
        je .done
        add r10, r8
        jmp .entry
.none:  xor esi, esi
.done:  ret

; scan_rsdp: RSI = the RSDP in [RSI, RDI), or 0.
scan_rsdp:
        mov rax, 'RSD PTR '
.next:  cmp rsi, rdi
        jae .none
        cmp [rsi], rax
        jne .skip
        xor ecx, ecx
        xor edx, edx
.sum:   add dl, [rsi + rcx]
        inc ecx
        cmp ecx, 20
        jb .sum
        test dl, dl
        jz .done
.skip:  add rsi, 16
        jmp .next
.none:  xor esi, esi
.done:  ret

; list_aps: RSI = MADT; ap_ids/ap_count = the enabled processor local
; APICs (entry type 0, flags bit 0) other than the BSP's (ACPI 6.5,
; "Processor Local APIC Structure").
list_aps:
        mov ecx, [rsi + 4]
        lea rdi, [rsi + rcx]            ; end
        add rsi, 44                     ; first entry
.entry: cmp rsi, rdi
        jae .done
        movzx ecx, byte [rsi + 1]
        test ecx, ecx
        jz .done                        ; a zero length would loop forever
        cmp byte [rsi], 0
        jne .skip
        test byte [rsi + 4], 1
        jz .skip
        movzx eax, byte [rsi + 3]
        cmp eax, [bsp_apic_id]
        je .skip
        mov edx, [ap_count]
        cmp edx, MAX_APS
        jae .skip
        mov [ap_ids + rdx * 4], eax
        inc dword [ap_count]
.skip:  add rsi, rcx
        jmp .entry
.done:  ret

; lock_line / unlock_line: the line buffer is every CPU's.
lock_line:
        lock bts dword [line_lock], 0
        jnc .got
        pause
        jmp lock_line
.got:   ret
unlock_line:
        mov dword [line_lock], 0
        ret

hc_check:
        mov eax, HC_CHECK
        HYPERCALL
        ret

%include "line.inc"

; ---------------------------------------------------------------------------
; An AP in long mode (from the trampoline's far jump): flat data, its own
; stack, the long-mode checks, the line, the counter, HLT.
; ---------------------------------------------------------------------------
ap_long64:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, 1
        lock xadd [ap_ticket], eax      ; EAX = this AP's start order
        shl eax, 12
        mov esp, AP_STACKS_TOP
        sub esp, eax
        lock inc dword [ap_started]     ; the BSP starts the next one now

        mov ecx, MSR_EFER
        rdmsr
        test eax, EFER_LMA
        CHECK nz, "smp ap: long mode: EFER.LMA = 1 after the switch from real mode"

        mov eax, 1
        cpuid
        mov r12d, ebx
        shr r12d, 24                    ; R12 = initial APIC ID (CPUID.1:EBX[31:24])
        mov edx, LAPIC_ID
        mov eax, [rdx]
        shr eax, 24
        cmp eax, r12d
        CHECK e, "smp ap: long mode: local APIC ID = CPUID initial APIC ID"
        ; Listed in the MADT, and not the BSP.
        xor ecx, ecx
        xor edx, edx
.find:  cmp ecx, [ap_count]
        jae .listed
        cmp [ap_ids + rcx * 4], r12d
        sete al
        or dl, al
        inc ecx
        jmp .find
.listed:
        test dl, dl
        CHECK nz, "smp ap: long mode: its APIC ID is one the MADT lists for an AP"

        call lock_line
        call line_reset
        LINE "pxhv-guest: cpu "
        LINE_DEC r12
        LINE ` up\n`
        call line_flush
        call unlock_line

        lock inc dword [ap_done]
%ifdef AP_ATTACK
        ; The first AP (ticket 0) waits for the BSP's word, then reads the
        ; hypervisor's first page (Guest/README.md: 0x200000).
        cmp rsp, AP_STACKS_TOP
        jne .idle
.wait_attack:
        pause
        cmp dword [ap_attack], 1
        jne .wait_attack
        mov eax, [abs HV_MEMORY_GPA]
%endif
.idle:  sti
        hlt
        jmp .idle

; ---------------------------------------------------------------------------
; The AP trampoline: assembled for 0x8000, copied there by the BSP. Real
; mode at CS:IP = 0800:0000 (the SIPI vector).
; ---------------------------------------------------------------------------
SECTION .tramp
BITS 16
%define CHECK_ROUTINE hc_check16        ; CHECK names in .data: GPAs above 1 MiB all the same
tramp_begin:
        ; The INIT state, saved before anything changes it: EFLAGS first
        ; (SS:SP = 0:0 after INIT, so PUSHFD writes 0xFFFC-0xFFFF, guest
        ; RAM), then the registers.
        pushfd
        pop dword [cs:t_eflags - tramp_begin]
        mov [cs:t_edx - tramp_begin], edx
        mov [cs:t_ds - tramp_begin], ds
        mov [cs:t_ss - tramp_begin], ss
        mov [cs:t_cs - tramp_begin], cs
        mov eax, cr0
        mov [cs:t_cr0 - tramp_begin], eax
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, REAL_STACK
        call .here
.here:  pop word [t_ip]
        mov ecx, MSR_EFER
        rdmsr
        mov [t_efer], eax

        mov ax, [t_cs]
        cmp ax, SIPI_VECTOR << 8
        jne .cs_checked
        cmp word [t_ip], .here - tramp_begin
.cs_checked:
        CHECK e, "smp ap: real mode: CS:IP = SIPI vector << 8 : 0"
        mov eax, 1
        cpuid
        cmp eax, [t_edx]
        CHECK e, "smp ap: real mode: EDX = processor signature (CPUID.1:EAX) after INIT"
        mov eax, [t_cr0]
        and eax, CR0_PG | CR0_CD | CR0_NW | CR0_ET | CR0_PE
        cmp eax, CR0_CD | CR0_NW | CR0_ET
        CHECK e, "smp ap: real mode: CR0 = CD NW ET, PE = PG = 0 after INIT"
        cmp dword [t_eflags], 2
        CHECK e, "smp ap: real mode: EFLAGS = 2 after INIT"
        movzx eax, word [t_ds]
        or ax, [t_ss]
        or eax, [t_efer]
        CHECK z, "smp ap: real mode: DS = SS = 0, EFER = 0 after INIT"

        ; Straight to long mode: paging and protection on at once.
        cli
        lgdt [t_gdtr]
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, [t_cr3]
        mov cr3, eax
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_LME
        wrmsr
        mov eax, cr0
        and eax, ~(CR0_CD | CR0_NW)
        or eax, CR0_PG | CR0_PE
        mov cr0, eax
        jmp dword 0x08:ap_long64
%define CHECK_ROUTINE hc_check

hc_check16:
        mov eax, HC_CHECK
        HYPERCALL
        ret

        align 8
t_gdt:  dq 0
        dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code
        dq 0x00CF92000000FFFF           ; 0x10: flat data
t_gdtr: dw 3 * 8 - 1
        dd t_gdt
t_cr3:  dd 0                            ; the BSP's CR3
t_edx:  dd 0
t_cr0:  dd 0
t_eflags: dd 0
t_efer: dd 0
t_ds:   dw 0
t_ss:   dw 0
t_cs:   dw 0
t_ip:   dw 0
tramp_end:

SECTION .data
BITS 64
HYPERCALL_SITES
bsp_apic_id:    dd 0
ap_count:       dd 0
ap_ids:         times MAX_APS dd 0
ap_ticket:      dd 0                    ; LOCK XADD: each AP's stack
ap_started:     dd 0                    ; APs that reached long mode
ap_done:        dd 0                    ; the shared counter (LOCK INC)
ap_attack:      dd 0                    ; AP_ATTACK: the BSP's word to the first AP
line_lock:      dd 0

SECTION .bss
line_buf:       resb LINE_MAX
line_len:       resq 1
digits:         resb 24
digits_end:
