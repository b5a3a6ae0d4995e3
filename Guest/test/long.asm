; pxHV built-in test guest: 64-bit (long mode).
;
; Contract: Guest/README.md. The hypervisor loads this flat binary at GPA
; 0x100000 and starts it at RIP=0x100000, RSP=0x1F0000, paging on (identity
; map of 4 GiB, CR3=0x70000), CR4.PAE/OSFXSR/OSXMMEXCPT, EFER.LME/LMA, a
; 64-bit CS, and an empty IDT (limit 0). The guest installs its own IDT
; first. Every check is reported with hypercall 2 (`check`). An exception the
; guest does not expect is reported as FAIL "long: unexpected exception N"
; and ends the guest with status 1.
;
; The last check is "long: read of hypervisor memory refused": hypercall 5
; (`expect stop`) and then a read of GPA 0x201000, which EPT does not map, so
; the hypervisor stops the guest there. The guest ends that way, not with
; hypercall 4.
;
; Assemble: nasm -f bin -o long.bin Guest/test/long.asm

BITS 64
DEFAULT REL
ORG 0x100000

HC_WRITE        equ 1                   ; RBX = GPA, RCX = length
HC_CHECK        equ 2                   ; RBX = pass, RCX = name GPA, RDX = length
HC_EXIT_COUNT   equ 3                   ; RBX = basic exit reason or 0xFFFF
HC_POWER_OFF    equ 4                   ; RBX = status
HC_EXPECT_STOP  equ 5                   ; RBX = name GPA, RCX = length
HC_UNKNOWN      equ 0x1234
ALL_EXITS       equ 0xFFFF
EXIT_CPUID      equ 10                  ; basic exit reasons, SDM Vol. 3C App. C
EXIT_VMCALL     equ 18
EXIT_IO         equ 30
EXIT_RDMSR      equ 31
DEBUG_PORT      equ 0xE9                ; IN reads 0xE9, answered by the hypervisor
MSR_FEATURE_CONTROL equ 0x3A            ; emulated: reads 1 (locked, VMX off)

HV_MEMORY_READ_GPA equ 0x201000         ; inside the hypervisor image
STACK_TOP       equ 0x1F0000
MSR_VMX_BASIC   equ 0x480
MSR_UNKNOWN     equ 0x40001000

CR0_MP          equ 1 << 1
CR0_EM          equ 1 << 2
CR0_TS          equ 1 << 3
CR4_OSFXSR      equ 1 << 9
CR4_VMXE_BIT    equ 13
CR4_OSXSAVE_BIT equ 18

LOOP_EXITS      equ 100000              ; exits per survival / benchmark loop
NO_FAULT        equ -1                  ; fault_seen when nothing faulted

GDT_CODE        equ 0x08
GDT_DATA        equ 0x10

VEC_UD          equ 6
VEC_GP          equ 13
VEC_PF          equ 14

; Register patterns for the survival test: distinct, upper half != lower half.
%define GPAT(n)  ((((0xA5A50000 + (n) * 0x0101) ^ 0x0F0F0F0F) << 32) | (0x5A5A0000 + (n) * 0x1111))
%define XPAT_LO(n) (GPAT(n + 0x20))
%define XPAT_HI(n) (GPAT(n + 0x40))

; ---------------------------------------------------------------------------
; Macros
; ---------------------------------------------------------------------------

%include "check.inc"

; SKIPPED "name", "reason": the check cannot run on this CPU (CPUID says the
; feature is absent). Reported as a PASS named "name (skipped: reason)" so
; the number of checks is the same on every CPU.
%macro SKIPPED 2
[section .data]
%%name: db %1, " (skipped: ", %2, ")"
%%len   equ $ - %%name
__SECT__
        mov ebx, 1
        mov ecx, %%name
        mov edx, %%len
        call hc_check
%endmacro

%include "line-macros.inc"

; EXIT_COUNT reason: RAX = VM exits so far for that basic reason (or all),
; this call included. Clobbers RAX, RBX.
%macro EXIT_COUNT 1
        mov ebx, %1
        mov eax, HC_EXIT_COUNT
        HYPERCALL
%endmacro

; A benchmark around a loop of LOOP_EXITS exits of one reason (the loop
; counts R12 down): BENCH_BEGIN reason reads the reason's counter into R14
; and the TSC into R13; BENCH_END reason, name, check [, adjustment] takes
; the cycles and the counted exits (after the optional adjustment of RAX),
; prints the bench line and checks the count.
%macro BENCH_BEGIN 1
        EXIT_COUNT %1
        mov r14, rax
        call tsc_now
        mov r13, rax
        mov r12d, LOOP_EXITS
%endmacro

%macro BENCH_END 3-4
        call tsc_now
        sub rax, r13
        mov r13, rax                    ; R13 = cycles
        EXIT_COUNT %1
        sub rax, r14
%if %0 == 4
        %4
%endif
        mov r14, rax                    ; R14 = counted
        lea rsi, [%2]
        mov ecx, %2_len
        call bench_report
        cmp r14, LOOP_EXITS
        CHECK e, %3
        ret
%endmacro

; FAULTING instruction: execute one instruction with the #UD/#GP/#PF
; handlers armed. If it faults, the handler records the vector in
; fault_seen and resumes after the instruction; otherwise fault_seen stays
; NO_FAULT. Touches no register (the instruction may use any of them).
%macro FAULTING 1+
        mov qword [fault_seen], NO_FAULT
        mov qword [fault_resume], %%resume
        mov byte [fault_armed], 1
        %1
%%resume:
        mov byte [fault_armed], 0
%endmacro

; ---------------------------------------------------------------------------
; Code
; ---------------------------------------------------------------------------
section .text

start:
        cli
        cld
        mov rsp, STACK_TOP
        call install_gdt
        call install_idt
        call enable_sse
        HYPERCALL_SELECT
        PRINT `pxhv-guest: long mode up\n`

; ---- CPUID view -----------------------------------------------------------
        mov eax, 1
        xor ecx, ecx
        cpuid
        mov r12d, ecx
        bt r12d, 31
        CHECK c, "long: cpuid hypervisor bit"
        bt r12d, 5
        CHECK nc, "long: cpuid vmx hidden"

        mov eax, 0x40000000
        xor ecx, ecx
        cpuid
        mov r12d, eax
        ; A chain of compares that jumps to the CHECK on the first mismatch:
        ; then ZF=0 (fail); falling through, ZF is that of the last compare.
        cmp ebx, 'pxHV'
        jne .sig
        cmp ecx, 'pxHV'
        jne .sig
        cmp edx, 'pxHV'
.sig:   CHECK e, "long: cpuid 0x40000000 signature pxHVpxHVpxHV"
        cmp r12d, 0x40000001
        CHECK ae, "long: cpuid 0x40000000 eax >= 0x40000001"

        mov eax, 0x40000001
        xor ecx, ecx
        cpuid
        cmp eax, 1
        CHECK e, "long: cpuid 0x40000001 abi version 1"

; ---- Hypercall ABI: unknown function -> RAX = all ones (all 64 bits) -------
        mov rax, HC_UNKNOWN
        HYPERCALL
        cmp rax, -1
        CHECK e, "long: unknown hypercall returns all ones"

; ---- CR4.VMXE ---------------------------------------------------------------
; The hypervisor owns CR4.VMXE (CR4 guest/host mask) and the read shadow
; shows 0. SDM Vol. 2B "MOV—Move to/from Control Registers": setting a CR4
; bit the processor does not support raises #GP(0); the guest's CPUID says
; no VMX, so setting VMXE must raise #GP and leave CR4 unchanged.
        mov rax, cr4
        bt rax, CR4_VMXE_BIT
        CHECK nc, "long: cr4 reads vmxe clear"

        mov rax, cr4
        bts rax, CR4_VMXE_BIT
        FAULTING mov cr4, rax
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: mov cr4 setting vmxe raises #GP"
        mov rax, cr4
        bt rax, CR4_VMXE_BIT
        CHECK nc, "long: cr4 reads back without vmxe"

; ---- XSETBV / XGETBV ------------------------------------------------------
; SDM Vol. 2D "XSETBV—Set Extended Control Register": #GP(0) if ECX != 0
; (only XCR0 is writable), if XCR0 bit 0 (x87) would be 0, or if a bit is
; set that CPUID.(EAX=0DH,ECX=0):EAX does not report; #UD if CR4.OSXSAVE=0.
; XSETBV always exits in VMX non-root operation, so the hypervisor checks.
        mov eax, 1
        xor ecx, ecx
        cpuid
        bt ecx, 26                      ; CPUID.1:ECX.XSAVE
        jc .xsave
        SKIPPED "long: mov cr4 setting osxsave accepted", "cpuid has no xsave"
        SKIPPED "long: xsetbv xcr0=0 raises #GP", "cpuid has no xsave"
        SKIPPED "long: xsetbv ecx=1 raises #GP", "cpuid has no xsave"
        SKIPPED "long: xsetbv valid xcr0 accepted", "cpuid has no xsave"
        SKIPPED "long: xgetbv reads back xcr0", "cpuid has no xsave"
        jmp .xsave_done
.xsave:
        mov rax, cr4
        bts rax, CR4_OSXSAVE_BIT
        FAULTING mov cr4, rax
        cmp qword [fault_seen], NO_FAULT
        jne .osx
        mov rax, cr4
        shr rax, CR4_OSXSAVE_BIT
        and eax, 1
        cmp eax, 1                      ; CR4 reads back with OSXSAVE
.osx:   CHECK e, "long: mov cr4 setting osxsave accepted"

        ; The valid value: x87 plus SSE if XCR0 supports it.
        mov eax, 0x0D
        xor ecx, ecx
        cpuid
        and eax, 2
        or eax, 1
        mov r12d, eax                   ; R12 = valid XCR0 (1 or 3)

        xor ecx, ecx                    ; XCR0 := 0 (x87 bit clear) -> #GP
        xor eax, eax
        xor edx, edx
        FAULTING xsetbv
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: xsetbv xcr0=0 raises #GP"

        mov ecx, 1                      ; XCR1 is not writable -> #GP
        mov eax, r12d
        xor edx, edx
        FAULTING xsetbv
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: xsetbv ecx=1 raises #GP"

        xor ecx, ecx
        mov eax, r12d
        xor edx, edx
        FAULTING xsetbv
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: xsetbv valid xcr0 accepted"

        xor ecx, ecx
        FAULTING xgetbv
        cmp qword [fault_seen], NO_FAULT
        jne .xget
        cmp eax, r12d
        jne .xget
        test edx, edx
.xget:  CHECK e, "long: xgetbv reads back xcr0"
.xsave_done:

; ---- MSRs: the guest's CPU has no such MSR -> #GP --------------------------
        mov ecx, MSR_UNKNOWN
        FAULTING rdmsr
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: rdmsr 0x40001000 raises #GP"

        mov ecx, MSR_VMX_BASIC
        FAULTING rdmsr
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: rdmsr 0x480 (vmx basic) raises #GP"

; ---- MSRs deny by default (Guest/README.md, "MSRs") -------------------------
        mov ecx, 0x2FF                  ; IA32_MTRR_DEF_TYPE = E | type 2 (undefined)
        mov eax, 0x802
        xor edx, edx
        FAULTING wrmsr
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: wrmsr mtrr def type 2 raises #GP"

        mov ecx, 0x1B                   ; IA32_APIC_BASE: read, then move the APIC
        rdmsr
        add eax, 0x10000
        FAULTING wrmsr
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: wrmsr apic base relocation raises #GP"

        mov ecx, 0x79                   ; IA32_BIOS_UPDT_TRIG: ignored
        mov eax, 0x12340000
        xor edx, edx
        FAULTING wrmsr
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: wrmsr microcode trigger is ignored"

        mov ecx, 0x570                  ; IA32_RTIT_CTL (Intel PT)
        FAULTING rdmsr
        cmp qword [fault_seen], VEC_GP
        CHECK e, "long: rdmsr intel pt ctl raises #GP"

        mov eax, 0xA                    ; architectural PMU leaf: all zero
        xor ecx, ecx
        cpuid
        or eax, ebx
        or eax, edx
        CHECK z, "long: cpuid leaf 0xa is zero"

; ---- Ports: the verdict UART (COM2) is not the guest's ----------------------
        mov dx, 0x2FD                   ; COM2 line status
        in al, dx
        cmp al, 0xFF
        CHECK e, "long: com2 line status reads 0xff"

; ---- Instructions that exit and must simply complete ------------------------
; WBINVD exits with "WBINVD exiting"; INVD exits unconditionally in VMX
; non-root operation (the hypervisor executes WBINVD for it). (HLT exits
; too: with interrupts off it ends the guest, which the hostile suite
; checks; with them on it idles until an interrupt, which this guest has
; none of.)
        FAULTING wbinvd
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: wbinvd completes"

        FAULTING invd
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: invd completes"

; ---- VMX instructions: the guest's CPU has no VMX ---------------------------
; They exit unconditionally in VMX non-root operation; the hypervisor
; answers #UD, as a CPU without VMX does, and never executes them.
        FAULTING vmxon [vmx_operand]
        cmp qword [fault_seen], VEC_UD
        CHECK e, "long: vmxon raises #UD"

        mov eax, 0x4402
        FAULTING vmread rbx, rax
        cmp qword [fault_seen], VEC_UD
        CHECK e, "long: vmread raises #UD"

        FAULTING vmptrld [vmx_operand]
        cmp qword [fault_seen], VEC_UD
        CHECK e, "long: vmptrld raises #UD"

        mov eax, 1
        FAULTING invept rax, [vmx_operand]
        cmp qword [fault_seen], VEC_UD
        CHECK e, "long: invept raises #UD"

; ---- Debug registers survive exits ("load/save debug controls") -------------
; Without those controls every exit would leave DR7 = 0x400.
        mov rax, 0x700                  ; LE and GE set, no breakpoint enabled
        mov dr7, rax
        xor eax, eax
        cpuid                           ; an exit
        mov rax, dr7
        cmp rax, 0x700
        CHECK e, "long: DR7 survives a VM exit"
        mov rax, 0x400
        mov dr7, rax

; ---- RDTSCP and INVPCID: no #UD when CPUID reports them ---------------------
; Without the secondary controls "enable RDTSCP" / "enable INVPCID" both
; raise #UD in the guest even though the hardware has them.
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb .no_rdtscp
        mov eax, 0x80000001
        cpuid
        bt edx, 27                      ; CPUID.80000001H:EDX.RDTSCP
        jnc .no_rdtscp
        FAULTING rdtscp
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: rdtscp does not #UD"
        jmp .rdtscp_done
.no_rdtscp:
        SKIPPED "long: rdtscp does not #UD", "cpuid has no rdtscp"
.rdtscp_done:

        xor eax, eax
        cpuid
        cmp eax, 7
        jb .no_invpcid
        mov eax, 7
        xor ecx, ecx
        cpuid
        bt ebx, 10                      ; CPUID.(EAX=07H,ECX=0):EBX.INVPCID
        jnc .no_invpcid
        mov eax, 2                      ; type 2: all contexts incl. globals
        FAULTING invpcid rax, [invpcid_descriptor]
        cmp qword [fault_seen], NO_FAULT
        CHECK e, "long: invpcid type 2 does not #UD"
        jmp .invpcid_done
.no_invpcid:
        SKIPPED "long: invpcid type 2 does not #UD", "cpuid has no invpcid"
.invpcid_done:

        call survival_test
        call bench_cpuid
        call bench_vmcall
        call bench_io
        call bench_msr

; ---- Hypervisor memory is not the guest's (the last check) ------------------
; GPA 0x200000 and up is unmapped in EPT: the read is an EPT violation and
; the hypervisor stops the guest. Hypercall 5 turns that stop into a PASS.
        mov ebx, name_hv_read
        mov ecx, name_hv_read_len
        mov eax, HC_EXPECT_STOP
        HYPERCALL
        mov rax, [abs HV_MEMORY_READ_GPA]
        ; Still running: the read was allowed.
        mov ebx, 0
        mov ecx, name_hv_read
        mov edx, name_hv_read_len
        call hc_check
        mov ebx, 1
        mov eax, HC_POWER_OFF
        HYPERCALL
        jmp triple_fault

; ---------------------------------------------------------------------------
; GPR and XMM survival: 100,000 VMCALL exits (hypercall 3, RBX = 0xFFFF),
; then every register must still hold its pattern. The ABI preserves all
; registers but RAX; the host side is built without SSE, so XMM state must
; survive without a save/restore. RCX is the loop counter; the loop also
; counts iterations in memory and the VMCALL exit counter must advance by
; exactly one per call.
; ---------------------------------------------------------------------------
survival_test:
        EXIT_COUNT EXIT_VMCALL
        mov [vmcall_count_before], rax
        mov qword [iterations], 0
        mov [saved_rsp], rsp

%assign n 0
%rep 16
        movdqa xmm %+ n, [xmm_patterns + 16 * n]
%assign n n+1
%endrep
        mov rdx, GPAT(3)
        mov rsi, GPAT(4)
        mov rdi, GPAT(5)
        mov rbp, GPAT(6)
%assign n 8
%rep 8
        mov r %+ n, GPAT(n)
%assign n n+1
%endrep
        mov ebx, ALL_EXITS              ; set once: the ABI must preserve it
        mov ecx, LOOP_EXITS
.loop:  mov eax, HC_EXIT_COUNT
        HYPERCALL
        inc qword [iterations]
        dec rcx
        jnz .loop

        ; GPRs (compare chain, see CHECK use above)
        cmp rbx, ALL_EXITS
        jne .gpr
        test rcx, rcx
        jne .gpr
        cmp qword [iterations], LOOP_EXITS
        jne .gpr
        cmp rsp, [saved_rsp]
        jne .gpr
        mov rax, GPAT(3)
        cmp rdx, rax
        jne .gpr
        mov rax, GPAT(4)
        cmp rsi, rax
        jne .gpr
        mov rax, GPAT(5)
        cmp rdi, rax
        jne .gpr
        mov rax, GPAT(6)
        cmp rbp, rax
        jne .gpr
%assign n 8
%rep 8
        mov rax, GPAT(n)
        cmp r %+ n, rax
        jne .gpr
%assign n n+1
%endrep
.gpr:   CHECK e, "long: rbx rcx rdx rsi rdi rbp rsp r8-r15 survive 100000 vmcall exits"

        ; XMMs: PCMPEQB against the pattern, PMOVMSKB = 0xFFFF when equal.
%assign n 0
%rep 16
        pcmpeqb xmm %+ n, [xmm_patterns + 16 * n]
        pmovmskb eax, xmm %+ n
        cmp eax, 0xFFFF
        jne .xmm
%assign n n+1
%endrep
.xmm:   CHECK e, "long: xmm0-xmm15 survive 100000 vmcall exits"

        ; Reason 18 (VMCALL): the loop's calls plus this read itself.
        EXIT_COUNT EXIT_VMCALL
        sub rax, [vmcall_count_before]
        ; The loop's exits, the two CHECK hypercalls above, and this
        ; EXIT_COUNT call itself (hypercall 3 counts itself).
        cmp rax, LOOP_EXITS + 3
        CHECK e, "long: vmcall exit count +1 per vmcall"
        xor ebp, ebp
        ret

; ---------------------------------------------------------------------------
; Benchmarks: the cost of a round trip through the hypervisor, in TSC
; cycles. They measure and print; the only checks are that the hypervisor's
; per-reason exit counters saw exactly the exits the loop caused.
;   pxhv-guest: bench cpuid exits=100000 cycles=<n> per-exit=<n> counted=<n>
; Four round trips: CPUID (leaf 0), VMCALL (hypercall 3), I/O (IN from the
; debug port 0xE9, which the hypervisor answers itself without side effects)
; and MSR (RDMSR of IA32_FEATURE_CONTROL, which the MSR policy emulates).
; Under Bochs the TSC counts retired instructions: per-exit is the
; instruction count of one loop iteration, guest and hypervisor together.
; ---------------------------------------------------------------------------
bench_cpuid:
        BENCH_BEGIN EXIT_CPUID          ; the reads are VMCALLs, not CPUIDs
.loop:  xor eax, eax
        xor ecx, ecx
        cpuid
        dec r12d
        jnz .loop
        BENCH_END EXIT_CPUID, bench_name_cpuid, "long: bench cpuid exits counted 100000"

bench_vmcall:
        BENCH_BEGIN EXIT_VMCALL
        mov ebx, ALL_EXITS
.loop:  mov eax, HC_EXIT_COUNT
        HYPERCALL
        dec r12d
        jnz .loop
        ; "dec rax": not the final read itself ("this call included")
        BENCH_END EXIT_VMCALL, bench_name_vmcall, "long: bench vmcall exits counted 100000", dec rax

bench_io:
        BENCH_BEGIN EXIT_IO             ; the reads are VMCALLs, not I/O exits
.loop:  in al, DEBUG_PORT
        dec r12d
        jnz .loop
        BENCH_END EXIT_IO, bench_name_io, "long: bench io exits counted 100000"

bench_msr:
        BENCH_BEGIN EXIT_RDMSR          ; the reads are VMCALLs, not RDMSRs
.loop:  mov ecx, MSR_FEATURE_CONTROL
        rdmsr
        dec r12d
        jnz .loop
        BENCH_END EXIT_RDMSR, bench_name_msr, "long: bench msr exits counted 100000"

; bench_report: RSI/RCX = name, R13 = cycles, R14 = counted. Prints the line.
bench_report:
        call line_reset
        push rsi
        push rcx
        LINE "pxhv-guest: bench "
        pop rcx
        pop rsi
        call line_append
        LINE " exits="
        mov eax, LOOP_EXITS
        call line_dec
        LINE " cycles="
        mov rax, r13
        call line_dec
        LINE " per-exit="
        mov rax, r13
        xor edx, edx
        mov ecx, LOOP_EXITS
        div rcx
        call line_dec
        LINE " counted="
        mov rax, r14
        call line_dec
        LINE `\n`
        call line_flush
        ret

; tsc_now: RAX = TSC. LFENCE keeps RDTSC from running ahead of the loop
; (SDM Vol. 2B "RDTSC—Read Time-Stamp Counter"). Clobbers RDX.
tsc_now:
        lfence
        rdtsc
        shl rdx, 32
        or rax, rdx
        ret

; hc_check: EBX = 1 pass / 0 fail, RCX = name GPA, RDX = length.
hc_check:
        mov eax, HC_CHECK
        HYPERCALL
        ret

; enable_sse: CR0.EM=0, CR0.MP=1, CR0.TS=0 (SSE instructions then run; SDM
; Vol. 3A 13.1.3); CR4.OSFXSR comes set from the hypervisor (make sure).
; Writes CR0/CR4 only if they differ (each write may be a CR-access exit).
enable_sse:
        mov rax, cr0
        mov rdx, rax
        and rax, ~(CR0_EM | CR0_TS)
        or rax, CR0_MP
        cmp rax, rdx
        je .cr4
        mov cr0, rax
.cr4:   mov rax, cr4
        test eax, CR4_OSFXSR
        jnz .done
        or eax, CR4_OSFXSR
        mov cr4, rax
.done:  ret

; ---------------------------------------------------------------------------
; Line buffer and number formatting (for hypercall 1 output)
; ---------------------------------------------------------------------------
%include "line.inc"

; ---------------------------------------------------------------------------
; Exceptions
; ---------------------------------------------------------------------------

; install_gdt: our own GDT, so exception delivery and IRETQ (which read
; the code and stack descriptors from the GDT in guest memory) do not depend
; on where the hypervisor's start state put GDTR. CS = 0x08, data = 0x10.
install_gdt:
        lgdt [gdtr]
        mov eax, GDT_DATA
        mov ds, eax
        mov es, eax
        mov ss, eax
        pop rax                         ; our return address
        push GDT_CODE
        push rax
        retfq                           ; return and reload CS

; install_idt: 32 interrupt gates (vectors 0-31) with the current CS.
install_idt:
        lea rdi, [idt]
        lea rsi, [exc_stub_table]
        mov ecx, 32
        mov dx, cs
.next:  mov rax, [rsi]
        mov [rdi], ax                   ; offset 15:0
        mov [rdi + 2], dx               ; selector
        mov word [rdi + 4], 0x8E00      ; IST 0, present, DPL 0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax               ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax              ; offset 63:32
        mov dword [rdi + 12], 0
        add rsi, 8
        add rdi, 16
        dec ecx
        jnz .next
        lidt [idtr]
        ret

; One stub per vector; those without a CPU error code push a 0, so every
; frame is: vector, error code, RIP, CS, RFLAGS, RSP, SS.
%assign v 0
%rep 32
exc_stub_ %+ v:
%if !(v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30)
        push 0
%endif
        push v
        jmp exc_common
%assign v v+1
%endrep

exc_common:
        push rax                        ; [rsp+8] vector, +16 error, +24 RIP
        cmp byte [fault_armed], 0
        je .fatal
        mov rax, [rsp + 8]
        cmp rax, VEC_UD
        je .recover
        cmp rax, VEC_GP
        je .recover
        cmp rax, VEC_PF
        jne .fatal
.recover:
        ; A FAULTING instruction: record the vector, resume after it.
        mov [fault_seen], rax
        mov byte [fault_armed], 0
        mov rax, [fault_resume]
        mov [rsp + 24], rax
        pop rax
        add rsp, 16
        iretq
.fatal:
        lea rbp, [rsp + 8]
        jmp fatal_exception

; fatal_exception: RBP -> vector, error code, RIP. Reports FAIL
; "long: unexpected exception N", prints the details, powers off (status 1).
fatal_exception:
        cli
        mov byte [fault_armed], 0
        call line_reset
        LINE "long: unexpected exception "
        mov rax, [rbp]
        call line_dec
        mov ebx, 0
        lea rcx, [line_buf]
        mov rdx, [line_len]
        call hc_check

        call line_reset
        LINE "pxhv-guest: exception "
        mov rax, [rbp]
        call line_dec
        LINE " rip=0x"
        mov rax, [rbp + 16]
        call line_hex16
        LINE " error=0x"
        mov rax, [rbp + 8]
        call line_hex16
        LINE " cr2=0x"
        mov rax, cr2
        call line_hex16
        LINE `\n`
        call line_flush

        mov ebx, 1
        mov eax, HC_POWER_OFF
        HYPERCALL
        ; fall through if power off returns

; triple_fault: last resort when power off does not end the guest. With an
; IDT limit of 0 any interrupt raises #GP, which cannot be delivered either:
; #DF, then shutdown (a triple-fault exit for the hypervisor).
triple_fault:
        cli
        lidt [null_idtr]
        int3
        jmp triple_fault

; ---------------------------------------------------------------------------
; Data
; ---------------------------------------------------------------------------
section .data align=16

align 16, db 0                  ; movdqa and pcmpeqb need 16-byte-aligned operands
xmm_patterns:
%assign n 0
%rep 16
        dq XPAT_LO(n), XPAT_HI(n)
%assign n n+1
%endrep

invpcid_descriptor:                     ; PCID 0, linear address 0 (unused by type 2)
        dq 0, 0

gdt:    dq 0                            ; null
        dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code, DPL 0
        dq 0x00CF92000000FFFF           ; 0x10: data, writable
gdtr:   dw 3 * 8 - 1
        dq gdt

idtr:   dw 32 * 16 - 1
        dq idt
null_idtr:
        dw 0
        dq 0

exc_stub_table:
%assign v 0
%rep 32
        dq exc_stub_ %+ v
%assign v v+1
%endrep

name_hv_read:       db "long: read of hypervisor memory refused"
name_hv_read_len    equ $ - name_hv_read

bench_name_cpuid:       db "cpuid"
bench_name_cpuid_len    equ $ - bench_name_cpuid
bench_name_vmcall:      db "vmcall"
bench_name_vmcall_len   equ $ - bench_name_vmcall
bench_name_io:          db "io"
bench_name_io_len       equ $ - bench_name_io
bench_name_msr:         db "msr"
bench_name_msr_len      equ $ - bench_name_msr

; ---------------------------------------------------------------------------
; Uninitialised data (after the image; well below the stack at 0x1F0000)
; ---------------------------------------------------------------------------
LINE_MAX        equ 256

section .bss align=16
idt:                    resb 32 * 16
line_buf:               resb LINE_MAX
line_len:               resq 1
digits:                 resb 24
digits_end:
fault_seen:             resq 1
vmx_operand:            resq 2          ; memory operand for the VMX instructions
fault_resume:           resq 1
iterations:             resq 1
saved_rsp:              resq 1
vmcall_count_before:    resq 1
fault_armed:            resb 1

; Every HYPERCALL site above, for HYPERCALL_SELECT (Guest/include/hypercall.inc).
section .data
HYPERCALL_SITES
