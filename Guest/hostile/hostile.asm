; pxHV hostile guest: an attacker's tour of the hypervisor (issue 7, item 10).
;
; Contract: Guest/README.md ("The hostile-guest suite"). The hypervisor
; starts this flat binary like the 64-bit test guest: loaded at GPA 0x100000,
; RIP=0x100000, RSP=0x1F0000, identity paging of 4 GiB (2 MiB pages, CR3 =
; 0x70000, supervisor-only), EFER.LME/LMA, a 64-bit CS, an empty IDT. The
; guest installs its own GDT (CPL 3 segments, a TSS whose RSP0 brings ring 3
; back to ring 0), its IDT (vectors 0-31, NMI counting, an INT 0x80 gate with
; DPL 3) and sets the U/S bits of the first 2 MiB so that ring 3 can run its
; code.
;
; Every attack is one section:
;
;     atk_name:
;             ATTACK "name", .recovered       ; hypercall 6 (attack begin)
;             ... the attack ...
;             COMPLETED                       ; it ran to the end unblocked
;     .recovered:
;             RECOVER                         ; where the hypervisor resumes us
;             END_ATTACK                      ; hypercall 7: its verdict
;
; While an attack is open, whenever the hypervisor would stop the guest it
; counts that as blocked and resumes the guest at the recovery RIP with the
; RSP and RFLAGS of the ATTACK line. The #GP/#UD it injects arrive through
; our IDT; the handlers jump to the same recovery point (`resume_rip`). A
; loop over many pages names its "next iteration" label as recovery RIP and
; keeps its state in memory. The hypervisor prints the verdict
; (`pxhv: hostile: <name> contained|ESCAPED`) on its own verdict channel; the
; guest only prints what it saw (`pxhv-guest: ...` lines, hypercall 1), which
; the hypervisor shows on COM1 as `guest| ...`.
;
; The end-to-end test reads the attack names from this file: every line that
; starts with `ATTACK "` (or a macro named `..._ATTACK "`) defines one.
;
; Assemble: nasm -f bin -o hostile.bin Guest/hostile/hostile.asm

BITS 64
DEFAULT REL
ORG 0x100000

section .text
section .rodata align=16
section .data align=16
section .bss align=4096 nobits
section .text

; ---------------------------------------------------------------------------
; The hypercall ABI (Guest/README.md)
; ---------------------------------------------------------------------------
HC_WRITE        equ 1                   ; RBX = GPA, RCX = length
HC_CHECK        equ 2                   ; RBX = pass, RCX = name GPA, RDX = length
HC_EXIT_COUNT   equ 3                   ; RBX = basic exit reason or 0xFFFF
HC_POWER_OFF    equ 4                   ; RBX = status
HC_EXPECT_STOP  equ 5                   ; RBX = name GPA, RCX = length
HC_ATTACK_BEGIN equ 6                   ; RBX = name GPA, RCX = length, RDX = recovery RIP
HC_ATTACK_END   equ 7                   ; RAX = 0 contained, 1 escaped
HC_HOST_INFO    equ 8                   ; RBX = GPA of a 4 KiB-aligned page
HC_ATTACK_SKIP  equ 9                   ; RBX = name GPA, RCX = length, RDX = reason
SKIP_NEEDS_TIMER equ 1                  ; hypercall 9: needs the VMX-preemption timer
HC_NOT_PERMITTED equ 0xFFFFFFFFFFFFFFFE ; any hypercall from CPL > 0
ALL_EXITS       equ 0xFFFF

; Host info page (hypercall 8), offsets of little-endian u64s.
HI_MAGIC        equ 0x00
HI_HIDDEN_START equ 0x08
HI_HIDDEN_END   equ 0x10
HI_HOST_CR3     equ 0x18
HI_HOST_GDT     equ 0x20
HI_HOST_IDT     equ 0x28
HI_HOST_TSS     equ 0x30
HI_VMXON        equ 0x38
HI_VMCS         equ 0x40
HI_EPT_PML4     equ 0x48
HI_OLD_TABLES   equ 0x50
HI_PM1A_CNT     equ 0x58
HI_PM1B_CNT     equ 0x60
HI_RESET_PORT   equ 0x68
HI_RESET_VALUE  equ 0x70
HI_APIC_BASE    equ 0x78
HI_CPU_COUNT    equ 0x80
HI_CPU_IDS      equ 0x88
HI_EXTRA_COUNT  equ 0x108
HI_EXTRA_RANGES equ 0x110
HI_VERDICT_UART equ 0x190
HI_FACS         equ 0x198
HI_TIMER_SLICE  equ 0x1A0               ; preemption-timer slice, TSC ticks (0: none)
HOST_INFO_MAGIC equ 0x54534F4856585850  ; "PXHVHOST"
MAX_OTHER_CPUS  equ 16
MAX_EXTRA_RANGES equ 8

; Guest memory
STACK_TOP       equ 0x1F0000            ; ring 0 (given by the hypervisor)
USER_STACK_TOP  equ 0x1E0000            ; ring 3
OWN_START       equ 0x100000            ; image, data, stacks: never swept
OWN_END         equ 0x200000
GUEST_TABLES    equ 0x70000             ; the hypervisor's guest page tables
GUEST_TABLES_END equ 0x80000
STAGE2_TABLES   equ 0x20000             ; stage 2's old page tables: now guest RAM
STAGE2_TABLES_END equ 0x60000
PAGE            equ 4096

; Selectors of our GDT
KERNEL_CS       equ 0x08
KERNEL_DS       equ 0x10
USER_DS         equ 0x18 | 3
USER_CS         equ 0x20 | 3
TSS_SEL         equ 0x28

; Local APIC (xAPIC MMIO), Intel SDM Vol. 3A "Interrupt Command Register"
APIC_ICR_LOW    equ 0x300
APIC_ICR_HIGH   equ 0x310
ICR_INIT        equ 0x00004500          ; INIT, level assert
ICR_SIPI        equ 0x00004600          ; start-up, vector in bits 7:0
ICR_NMI         equ 0x00004400          ; NMI, physical destination
ICR_ALL_BUT_SELF equ 0x000C0000         ; destination shorthand 11b
ICR_BUSY_BIT    equ 12
DEFAULT_APIC_BASE equ 0xFEE00000
LAPIC_TPR       equ 0x80            ; task-priority register

; I/O APIC (Intel 82093AA datasheet) at its usual base, and the PIT
IOAPIC_BASE     equ 0xFEC00000
IOAPIC_REGSEL   equ 0x00
IOAPIC_WINDOW   equ 0x10
IOAPIC_REDIRECTION equ 0x10             ; entry n: registers 0x10 + 2n, +1
IOAPIC_DELIVERY_NMI equ 4 << 8
IOAPIC_DELIVERY_INIT equ 5 << 8         ; 101b: the INIT signal, vector 0, edge
IOAPIC_DELIVERY_STARTUP equ 6 << 8      ; 110b: reserved in the 82093AA
IOAPIC_MASKED   equ 1 << 16
IOAPIC_PIT_PIN  equ 2                   ; the PIT's IRQ 0 (ISA override)
PIT_CH0         equ 0x40
PIT_COMMAND     equ 0x43
PIT_CH0_RATE    equ 0x34                ; channel 0, lo/hi byte, mode 2
PIT_FAST_DIVISOR equ 200                ; ~6 kHz
NMI_PIT_EXITS   equ 3000

; PIIX4 power management (Intel 82371AB datasheet, function 3)
PIIX4_PM_ID     equ 0x71138086          ; device 7113, vendor 8086
PIIX4_PMBA      equ 0x40                ; PM base address (I/O)
PIIX4_PM1_CNT   equ 0x04                ; PM1 control, from PMBA
PM_RELOCATED_BASE equ 0xA000            ; where the attacker moves it

; ACPI PM1 control, ACPI spec "PM1 Control Registers"
PM1_SLP_EN      equ 1 << 13
PM1_SLP_TYP_SHIFT equ 10
PM1_SLP_TYP_MASK equ 7 << 10

; Recovery bookkeeping: how control reached a recovery point.
ARRIVED_NONE    equ 0                   ; the hypervisor resumed us there
ARRIVED_NORMAL  equ 1                   ; the attack ran to its end
ARRIVED_EXCEPTION equ 2                 ; an exception through our IDT
ARRIVED_LOCAL   equ 3                   ; inside try_user/try_kernel
ARRIVED_STOPPED equ 4                   ; resumed at CPL 3, lifted to ring 0
ARRIVED_START   equ 5                   ; a loop's first pass (not counted)
NO_VECTOR       equ -1
VEC_NMI         equ 2
VEC_RETURN      equ 0x80                ; INT 0x80: ring 3 is done

EFER_SVME       equ 1 << 12             ; AMD APM Vol. 2, "Extended Feature Enable Register (EFER)"
CR4_PGE         equ 1 << 7
TLB_LINEAR      equ 0x8000000000        ; PML4[1]: the stale-TLB attacks' page

SIPI_MARKER_VALUE equ 0x5A5A0000        ; | APIC ID, written by a started CPU
NMI_STORM_COUNT equ 1000
SPIN_ITERATIONS equ 15000000            ; 2 instructions each: ~30 million

; ---------------------------------------------------------------------------
; Macros
; ---------------------------------------------------------------------------

%define LINE_TEXT_SECTION .rodata
%include "line-macros.inc"

; ATTACK "name", recovery[, needs_timer]: open an attack (hypercall 6) whose
; recovery RIP is `recovery`; the RSP here is the one the hypervisor
; restores. If the hypervisor refuses, the attack is skipped (up to its
; END_ATTACK). With `needs_timer`, an attack that only the VMX-preemption
; timer can judge is skipped when host info says there is none (AMD-V):
; hypercall 9 tells the hypervisor why, which checks it and says so on its
; verdict channel (if it refuses, the attack runs).
%macro ATTACK 2-3
%push attack
%strlen %%chars %1
%if %%chars < 1 || %%chars > 64
%error attack name must be 1..64 bytes
%endif
[section .rodata]
%%name: db %1
%%len   equ $ - %%name
__SECT__
        lea rax, [%%name]
        mov [attack_name], rax
        mov qword [attack_name_len], %%len
        call attack_prepare
%if %0 == 3
%ifnidn %3, needs_timer
%error ATTACK: the third argument is needs_timer
%endif
        cmp qword [host_info + HI_TIMER_SLICE], 0
        jne %%run
        lea rbx, [%%name]
        mov ecx, %%len
        mov edx, SKIP_NEEDS_TIMER
        mov eax, HC_ATTACK_SKIP
        HYPERCALL
        test rax, rax
        jnz %%run                       ; refused: the attack runs
        call attack_skipped
        jmp %$skip
%%run:
%endif
        lea rdx, [%2]
        mov [attack_rip], rdx
        mov [resume_rip], rdx
        mov [attack_rsp], rsp
        mov [resume_rsp], rsp
        lea rbx, [%%name]
        mov ecx, %%len
        mov eax, HC_ATTACK_BEGIN
        HYPERCALL
        test rax, rax
        jz %%open
        call attack_refused
        jmp %$skip
%%open:
        mov byte [attack_open], 1
%endmacro

; FIRST_PASS: right before a loop's recovery point (`.next`), so that the
; loop's first pass through it is not counted as a recovery.
%macro FIRST_PASS 0
        mov byte [arrived], ARRIVED_START
%endmacro

; COMPLETED: the attack's instructions ran to their end (nothing stopped or
; faulted them). Falls through to the recovery point.
%macro COMPLETED 0
        mov byte [arrived], ARRIVED_NORMAL
%endmacro

; RESTORE: at a recovery point. If the hypervisor resumed us at CPL 3, go
; back to ring 0 through INT 0x80 (this very spot). Then reload our GDT and
; IDT (an attack may have replaced them) and point our handlers at the
; attack's recovery point again. Clobbers RAX.
%macro RESTORE 0
        mov eax, cs
        test al, 3
        jz %%ring0
        mov byte [arrived], ARRIVED_STOPPED
        lea rax, [%%ring0]
        mov [resume_rip], rax
        mov [resume_rsp], rsp
        int VEC_RETURN
%%ring0:
        cld
        lgdt [gdtr]
        lidt [idtr]
        mov rax, [attack_rip]
        mov [resume_rip], rax
        mov rax, [attack_rsp]
        mov [resume_rsp], rax
%endmacro

; RECOVER: RESTORE, then count how we got here (completed, exception,
; stopped by the hypervisor). Clobbers RAX, RCX.
%macro RECOVER 0
        RESTORE
        call tally_arrival
%endmacro

; END_ATTACK: hypercall 7 and the guest's line on what it saw.
%macro END_ATTACK 0
        RESTORE
        mov eax, HC_ATTACK_END
        HYPERCALL
        call attack_finished
%$skip:
%pop
%endmacro

; WRMSR_ATTACK "name", msr, value, restore|keep: one WRMSR (value: an
; immediate or a memory operand, prepared before), with recovery on #GP.
; With `restore`, the MSR's value is read before the attack and written
; back after its verdict (both may #GP: caught), so that an MSR the
; hypervisor emulates does not change the rest of the run (a restore before
; the verdict would hide a write that reached the hardware).
%macro WRMSR_ATTACK 4
        mov dword [msr_number], %2
        mov byte [msr_saved], 0
%ifidn %4, restore
        lea rdi, [msr_read_saved]
        call try_kernel
%elifnidn %4, keep
%error WRMSR_ATTACK: restore or keep
%endif
        ATTACK %1, %%recovered
        mov rax, %3
        mov rdx, rax
        shr rdx, 32
        mov ecx, %2
        wrmsr
        COMPLETED
%%recovered:
        RECOVER
        END_ATTACK
        call msr_restore
%endmacro

; RDMSR_ATTACK "name", msr: one RDMSR, with recovery on #GP.
%macro RDMSR_ATTACK 2
        ATTACK %1, %%recovered
        mov ecx, %2
        rdmsr
        COMPLETED
%%recovered:
        RECOVER
        END_ATTACK
%endmacro

; STALE_TLB_ATTACK "name", mode: CPUID executed through a TLB entry that no
; longer matches the guest's page tables. A stub page is mapped at
; TLB_LINEAR (PML4[1] -> tlb_pdpt -> tlb_pd -> tlb_pt -> tlb_code) and run
; once without exiting, so the CPU caches the translation; then, without
; INVLPG, the mapping is changed (mode `page`: the PTE to a hidden page;
; `table`: the PDE to a hidden page as page table; `bytes`: the PTE to a
; page whose bytes there are UD2), and the stub runs again: the CPU may
; execute CPUID from its stale entry. A hypervisor that fetches the
; instruction at RIP through the guest's page tables (SVM without NRIPS)
; must refuse hidden memory and must not take other bytes for the CPUID
; that exited: the guest is stopped (then recovered), never the host.
%macro STALE_TLB_ATTACK 2
        call tlb_prepare
        ATTACK %1, %%recovered
        mov rax, [hidden_start]
        test rax, rax
        jz %%none
        xor edi, edi                    ; the first run: no CPUID
        mov rax, TLB_LINEAR
        call rax
%ifidn %2, page
        mov rax, [hidden_start]
        and rax, ~(PAGE - 1)
        or rax, 3
        mov [tlb_pt], rax
%elifidn %2, table
        mov rax, [hidden_start]
        and rax, ~(PAGE - 1)
        or rax, 3
        mov [tlb_pd], rax
%elifidn %2, bytes
        lea rax, [tlb_other]
        or rax, 3
        mov [tlb_pt], rax
%else
%error STALE_TLB_ATTACK: page, table or bytes
%endif
        mov edi, 1                      ; the attack: CPUID, stale TLB
        mov rax, TLB_LINEAR
        call rax
%%none:
        COMPLETED
%%recovered:
        RECOVER
        call tlb_unmap
        END_ATTACK
%endmacro

; OUT_ATTACK "name", port, value, width (b / w): one OUT.
%macro OUT_ATTACK 4
        ATTACK %1, %%recovered
        mov edx, %2
        mov eax, %3
%ifidn %4, b
        out dx, al
%else
        out dx, ax
%endif
        COMPLETED
%%recovered:
        RECOVER
        END_ATTACK
%endmacro

; WRITE_HOST_ATTACK "name", host-info offset: write 16 qwords over the host
; structure whose address host info gives (skipped if that is 0).
%macro WRITE_HOST_ATTACK 2
        ATTACK %1, %%recovered
        mov rdi, [host_info + %2]
        test rdi, rdi
        jz %%none
        mov rax, 0xCCCCCCCCCCCCCCCC
        mov ecx, 16
        rep stosq
%%none:
        COMPLETED
%%recovered:
        RECOVER
        END_ATTACK
%endmacro

; INIT_SIPI_ATTACK "name", pages: INIT, STARTUP, STARTUP
; (send_init_sipi_sipi) to each CPU host info lists, then to all but self,
; with the start-up code at the first usable page of the list `pages`
; (sipi_prepare); then what that page's report block holds.
%macro INIT_SIPI_ATTACK 2
        lea rsi, [%2]
        call sipi_prepare
        mov qword [step], -1
        ATTACK %1, %%next
        FIRST_PASS
%%next:
        RECOVER
        call next_ipi_target
        ja %%done
        call send_init_sipi_sipi
        COMPLETED
        jmp %%next
%%done:
        END_ATTACK
        call report_sipi_marker
%endmacro

; VMX_PROBE "name", instruction...: one VMX-family instruction, run by the
; CPL 3 and the CPL 0 probes (table `vmx_probes`: name, length, ring-3 stub
; ending in INT 0x80, ring-0 stub ending in RET).
%macro VMX_PROBE 2+
[section .rodata]
%%name: db %1
%%len   equ $ - %%name
[section .text]
%%user: %2
        int VEC_RETURN
%%kernel:
        %2
        ret
__SECT__
        dq %%name, %%len, %%user, %%kernel
%endmacro

; SVM_PROBE "name", instruction: an AMD-V instruction, as VMX_PROBE, with
; RAX = 0x1000 and ECX = 0 (a page-aligned address, ASID 0) first.
%macro SVM_PROBE 2+
[section .rodata]
%%name: db %1
%%len   equ $ - %%name
[section .text]
%%user: mov eax, 0x1000
        xor ecx, ecx
        %2
        int VEC_RETURN
%%kernel:
        mov eax, 0x1000
        xor ecx, ecx
        %2
        ret
__SECT__
        dq %%name, %%len, %%user, %%kernel
%endmacro

; LINE_SWEEP "name": the line after a hidden-memory sweep.
%macro LINE_SWEEP 1
        call line_reset
        LINE "pxhv-guest: "
        LINE %1
        LINE ": pages tried "
        LINE_DEC [sweep_pages]
        LINE ", not blocked "
        LINE_DEC [sweep_landed]
        LINE ", skipped (guest's own memory) "
        LINE_DEC [sweep_skipped]
        LINE `\n`
        call line_flush
%endmacro

; ---------------------------------------------------------------------------
; Start
; ---------------------------------------------------------------------------
section .text

start:
        cli
        cld
        mov rsp, STACK_TOP
        lea rdi, [bss_start]            ; the loader copies the image only
        mov ecx, bss_end - bss_start
        xor eax, eax
        rep stosb
        HYPERCALL_SELECT
        call install_gdt
        call install_idt
        call user_pages
        PRINT `pxhv-guest: hostile guest up\n`
        call fetch_host_info
        call prepare_values

; ===========================================================================
; Host page tables
; ===========================================================================

; The attacker wants the host's page tables: stage 2 built them at
; 0x20000-0x5FFFF and once left them as the host's CR3. Fill every page with
; entries that point at a table of ours mapping everything to guest RAM. If
; the host still walked them, its next VM exit would run our memory in VMX
; root operation (evil_table -> evil_pd -> 2 MiB pages at GPA 0: host
; virtual 0x200000 would be guest RAM at 0, host virtual 0x300000 our own
; image). Now that range is plain guest RAM: the writes land and must
; change nothing of the host.
atk_stage2_tables:
        mov qword [sweep_addr], STAGE2_TABLES - PAGE
        ATTACK "write-stage2-page-tables", .next
        FIRST_PASS
.next:
        RECOVER
        add qword [sweep_addr], PAGE
        cmp qword [sweep_addr], STAGE2_TABLES_END
        jae .done
        mov rdi, [sweep_addr]
        lea rax, [evil_table]
        or rax, 7                       ; present, writable, user
        mov ecx, PAGE / 8
        rep stosq
        inc qword [sweep_landed]
        mov ecx, 200                    ; let the host run on whatever CR3 it has
.exits: push rcx
        xor eax, eax
        cpuid
        pop rcx
        dec ecx
        jnz .exits
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: stage 2 tables: pages written "
        LINE_DEC [sweep_landed]
        LINE ` of 64\n`
        call line_flush

; The host's own page tables (the PML4 at host CR3, from host info).
        WRITE_HOST_ATTACK "write-host-cr3-tables", HI_HOST_CR3
; Its descriptor tables, TSS, VMX regions and EPT tables, each explicitly.
        WRITE_HOST_ATTACK "write-host-gdt", HI_HOST_GDT
        WRITE_HOST_ATTACK "write-host-idt", HI_HOST_IDT
        WRITE_HOST_ATTACK "write-host-tss", HI_HOST_TSS
        WRITE_HOST_ATTACK "write-host-vmxon-region", HI_VMXON
        WRITE_HOST_ATTACK "write-host-vmcs", HI_VMCS
        WRITE_HOST_ATTACK "write-host-ept-tables", HI_EPT_PML4

; ===========================================================================
; Hidden memory, page by page
; ===========================================================================

; The attacker wants to read the hypervisor: every 4 KiB page of the hidden
; range and of the extra hidden ranges. Each read must be blocked.
atk_read_hidden:
        call sweep_reset
        ATTACK "read-hidden-memory", .next
        FIRST_PASS
.next:
        RECOVER
        call sweep_advance
        jc .done
        mov rbx, [rax]                  ; the attack
        inc qword [sweep_landed]
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        LINE_SWEEP "read-hidden-memory"

; ... and to write it: a qword into every hidden page.
atk_write_hidden:
        call sweep_reset
        ATTACK "write-hidden-memory", .next
        FIRST_PASS
.next:
        RECOVER
        call sweep_advance
        jc .done
        mov rbx, 0xCCCCCCCCCCCCCCCC
        mov [rax], rbx                  ; the attack
        inc qword [sweep_landed]
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        LINE_SWEEP "write-hidden-memory"

; ===========================================================================
; The hypervisor as a confused deputy
; ===========================================================================

; The attacker asks the hypervisor to read hidden memory for it: hypercall
; 1 (write) from the start of the hidden range, a string that starts in
; guest RAM and runs into it, lengths that wrap around the address space,
; and hypercalls 2 (check) and 5 (expect stop) whose name lies in hidden
; memory. Each must fail, printing nothing of the host.
atk_hc_read:
        mov qword [step], -1
        ATTACK "hypercall-reads-hidden-memory", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [step]
        cmp rax, 6
        jae .done
        mov rdi, [hidden_start]
        lea rcx, [.steps]
        jmp [rcx + rax * 8]
.steps: dq .from_hidden, .into_hidden, .huge, .wrap, .check, .expect
.from_hidden:
        mov rbx, rdi
        mov ecx, 64
        jmp .write
.into_hidden:
        lea rbx, [rdi - 16]             ; 16 bytes of RAM, then hidden
        mov ecx, 64
        jmp .write
.huge:  mov ebx, 0x1000                 ; start + length wraps to 0xFFF
        mov rcx, -1
        jmp .write
.wrap:  mov rbx, -PAGE                  ; the last page of the address space
        mov ecx, 2 * PAGE
.write: mov eax, HC_WRITE
        HYPERCALL
        jmp .result
.check: mov ebx, 1
        mov rcx, rdi
        mov edx, 64
        mov eax, HC_CHECK
        HYPERCALL
        jmp .result
.expect:
        mov rbx, rdi
        mov ecx, 64
        mov eax, HC_EXPECT_STOP
        HYPERCALL
.result:
        mov rcx, [step]
        lea rdx, [step_results]
        mov [rdx + rcx * 8], rax
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: hypercalls on hidden memory (1 from it, 1 into it, 1 huge, 1 wrapping, 2, 5) ->"
        xor ebx, ebx
.each:  LINE " 0x"
        lea rax, [step_results]
        mov rax, [rax + rbx * 8]
        call line_hex
        inc ebx
        cmp ebx, 6
        jb .each
        LINE `\n`
        call line_flush

; The attacker asks the hypervisor to write hidden memory for it: hypercall
; 8 (host info) into the host's PML4 and into the first hidden page.
atk_hc_write:
        mov qword [step], -1
        ATTACK "hypercall-writes-hidden-memory", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        cmp qword [step], 2
        jae .done
        mov rbx, [host_info + HI_HOST_CR3]
        cmp qword [step], 0
        je .call
        mov rbx, [hidden_start]
.call:  and rbx, ~(PAGE - 1)
        mov eax, HC_HOST_INFO
        HYPERCALL
        mov rcx, [step]
        lea rdx, [step_results]
        mov [rdx + rcx * 8], rax
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: hypercall 8 into the host PML4 -> 0x"
        LINE_HEX [step_results]
        LINE ", into hidden memory -> 0x"
        LINE_HEX [step_results + 8]
        LINE `\n`
        call line_flush

; ===========================================================================
; Debug registers aimed at the host
; ===========================================================================

; The attacker arms hardware breakpoints (read/write, all four) on the
; host's IDT, GDT, TSS and VMCS addresses and makes the host run: if the
; host ran with the guest's DR7, its own accesses would raise #DB in VMX
; root operation.
atk_debug_regs:
        ATTACK "debug-breakpoints-on-host", .recovered
        mov rax, [host_info + HI_HOST_IDT]
        mov dr0, rax
        mov rax, [host_info + HI_HOST_GDT]
        mov dr1, rax
        mov rax, [host_info + HI_HOST_TSS]
        mov dr2, rax
        mov rax, [host_info + HI_VMCS]
        mov dr3, rax
        mov eax, 0xFFFF00FF             ; L0-3, G0-3; R/W any access, 4 bytes
        mov dr7, rax
        mov ecx, 100
.exits: push rcx
        xor eax, eax
        cpuid
        pop rcx
        dec ecx
        jnz .exits
        COMPLETED
.recovered:
        RECOVER
        mov eax, 0x400                  ; disarm whatever happened
        mov dr7, rax
        END_ATTACK

; ===========================================================================
; Other CPUs and the local APIC
; ===========================================================================

; The attacker starts the other CPUs on its own code: INIT, SIPI, SIPI
; through the xAPIC ICR to every CPU host info lists, then to "all
; excluding self". The start-up page (guest RAM below 1 MiB) writes a
; marker after it asked CPUID for the hypervisor bit and made hypercall 3
; (sipi_code). Under VT-x pxHV delivers the INIT and STARTUP itself: each
; starts that CPU's vCPU of this guest, so the marker is written, by guest
; code in VMX non-root operation (its hypercall is an exit of pxHV's exit
; loop on that CPU: the verdict line counts it). Under AMD-V the CPUs stay
; parked and the marker untouched. A real CPU that ran it would be running
; guest code outside VMX: pxHV's probe after the attack finds such a CPU
; silent.
        INIT_SIPI_ATTACK "init-sipi-other-cpus", sipi_pages_first

; The attacker restarts the running vCPUs elsewhere: INIT, SIPI, SIPI again
; (each listed CPU, then all but self) with a second start-up page while
; they idle in the first one's code. Each must start afresh at the new page
; as this guest's vCPU (the new page's marker, hypervisor bit and
; hypercall); the INIT takes a running vCPU out of its guest, the first
; STARTUP starts it, the second is ignored.
        INIT_SIPI_ATTACK "init-sipi-restart-vcpu", sipi_pages_second

; The attacker sends NMIs to the other CPUs (each listed one, then all but
; self), 100 each: a CPU pxHV parked in VMX root operation takes them in
; root mode, where a panicking NMI handler would take the host down; a
; vCPU started by the attacks above takes them as NMI exits, and pxHV
; delivers them to its guest (the start-up code's NMI handler counts them).
atk_nmi_others:
        mov qword [step], -1
        ATTACK "nmi-to-other-cpus", .next
        FIRST_PASS
.next:
        RECOVER
        call next_ipi_target
        ja .done
        mov r9d, 100
.nmi:   mov edi, ICR_NMI
        or edi, r8d
        call apic_send
        xor eax, eax                    ; (CPUID clobbers RBX, RCX, RDX only)
        cpuid
        dec r9d
        jnz .nmi
        COMPLETED
        jmp .next
.done:
        call short_wait
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: nmi-to-other-cpus: the started cpus' nmi handler (page 0x"
        LINE_HEX [sipi_page]
        LINE ") took "
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_NMIS]
        call line_dec
        LINE `\n`
        call line_flush

; The attacker points a STARTUP at a page it may not run: pxHV's AP
; trampoline (the first extra hidden range below 1 MiB in host info),
; after an INIT that takes a running vCPU out of its guest (each listed
; CPU, then all but self). A vCPU started there would run hypervisor
; memory: pxHV must refuse the STARTUP (the sender is stopped, then
; recovered) and start nothing; the vCPU waits in VMX root.
atk_sipi_hidden:
        call hidden_low_page
        mov [sipi_hidden_page], rax
        mov qword [step], -1
        ATTACK "init-sipi-hidden-start-page", .next
        FIRST_PASS
.next:
        RECOVER
        call next_ipi_target
        ja .done
        mov edi, ICR_INIT
        or edi, r8d
        call apic_send
        call short_wait
        mov rax, [sipi_hidden_page]
        test rax, rax
        jz .stepped                     ; no hidden page below 1 MiB
        shr eax, 12
        mov edi, ICR_SIPI
        or edi, r8d
        or edi, eax
        call apic_send                  ; the attack
        call short_wait
.stepped:
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: init-sipi-hidden-start-page: start-up page 0x"
        LINE_HEX [sipi_hidden_page]
        LINE `\n`
        call line_flush

; The attacker writes the local APIC with stores pxHV's emulation of the
; trapped xAPIC page does not take: a 16-bit MOV, a 32-bit MOV inside a
; register, an XCHG. With the page trapped (the guest has vCPUs) each must
; stop the guest with one line, recovered by the harness, and never reach
; the APIC; with no other CPU the page is the guest's and they reach the
; real task-priority register, whose value is put back after the verdict.
%macro APIC_STORE_ATTACK 2+
        mov rdi, [apic_base]
        mov eax, [rdi + LAPIC_TPR]
        mov [tpr_saved], rax
        ATTACK %1, %%recovered
        mov rdi, [apic_base]
        xor eax, eax
        %2
        COMPLETED
%%recovered:
        RECOVER
        END_ATTACK
        mov rdi, [apic_base]
        mov eax, [tpr_saved]
        mov [rdi + LAPIC_TPR], eax      ; a 32-bit MOV: emulated when trapped
%endmacro

        APIC_STORE_ATTACK "apic-store-16-bit", mov [rdi + LAPIC_TPR], ax
        APIC_STORE_ATTACK "apic-store-inside-register", mov [rdi + LAPIC_TPR + 4], eax
        APIC_STORE_ATTACK "apic-store-xchg", xchg [rdi + LAPIC_TPR], eax

; (No "INIT to its own CPU" attack: Bochs 2.7 keeps that INIT pending
; after the INIT exit, so every later VM entry exits again and the guest can
; only be stopped (which the hypervisor does: StopReason.initSignal, tested
; in VMExitTests); on real hardware the exit consumes the INIT.)

; The attacker floods its own CPU with NMIs through the ICR, interleaved with
; CPUID exits so that some arrive while the hypervisor runs (once a root-mode
; NMI panicked the host). Our NMI handler counts what is delivered.
atk_nmi_storm:
        mov qword [nmi_count], 0
        mov qword [step], 0
        ATTACK "nmi-storm", .recovered
        mov edx, [own_apic_id]
        shl edx, 24
        mov [ipi_dest], edx
.loop:  mov edi, ICR_NMI
        call apic_send
        xor eax, eax
        cpuid
        inc qword [step]
        cmp qword [step], NMI_STORM_COUNT
        jb .loop
        mov ecx, 100                    ; let the last ones arrive
.exits: push rcx
        xor eax, eax
        cpuid
        pop rcx
        dec ecx
        jnz .exits
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: nmi storm: sent "
        LINE_DEC [step]
        LINE ", handled "
        LINE_DEC [nmi_count]
        LINE `\n`
        call line_flush

; The attacker makes NMIs arrive at random moments, as in the issue's first
; report: the I/O APIC turns the PIT's IRQ 0 (pins 0 and 2) into NMIs to
; this CPU, the PIT runs fast, and the guest makes exits all the while, so
; some NMIs arrive in VMX root operation. Afterwards the pins are masked and
; the PIT slowed to its BIOS rate again.
atk_nmi_pit:
        mov qword [nmi_count], 0
        mov qword [step], 0
        ATTACK "nmi-storm-ioapic-pit", .recovered
        mov eax, [own_apic_id]
        shl eax, 24                     ; destination (physical): our APIC ID
        mov edx, IOAPIC_DELIVERY_NMI    ; NMI, edge, active high, unmasked
        mov ecx, 0
        call ioapic_route
        mov ecx, 2
        call ioapic_route
        call pit_fast
.loop:  xor eax, eax                    ; exits while the NMIs come
        cpuid
        mov ecx, 200
.spin:  dec ecx
        jnz .spin
        inc qword [step]
        cmp qword [step], NMI_PIT_EXITS
        jb .loop
        COMPLETED
.recovered:
        RECOVER
        mov eax, [own_apic_id]          ; quiet again (also after a block)
        shl eax, 24
        mov edx, IOAPIC_DELIVERY_NMI | IOAPIC_MASKED
        mov ecx, 0
        call ioapic_route
        mov ecx, 2
        call ioapic_route
        call pit_slow
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: nmi storm (ioapic, pit): exits "
        LINE_DEC [step]
        LINE ", nmis handled "
        LINE_DEC [nmi_count]
        LINE `\n`
        call line_flush

; The attacker INITs the other CPUs behind the local APIC's back: pxHV traps
; the xAPIC ICR, but the I/O APIC sends INIT too (82093AA datasheet,
; IOREDTBL delivery mode 101b; no ICR involved). For each CPU host info
; lists (never the boot CPU: Bochs 2.7 re-exits on an INIT to it for ever),
; the guest first starts that CPU's vCPU on its start-up page through the
; ICR (pxHV delivers INIT/SIPI), checks that it runs there (NMIs through
; the ICR reach its handler), then routes the PIT's pin as INIT (edge,
; physical destination: the CPU's APIC ID) while the PIT runs fast, and
; masks the pin again. A vCPU in VMX non-root takes the INIT as an INIT VM
; exit (in VMX root INIT is blocked) and waits in VMX root for a STARTUP:
; NMIs through the ICR no longer reach its guest. Then the pin as STARTUP
; (110b, reserved in the 82093AA; Bochs's I/O APIC passes it to the local
; APIC, which starts only a CPU in the wait-for-SIPI state, which pxHV
; never uses: ignored), then a STARTUP through the ICR, which pxHV
; delivers: the vCPU starts afresh at the page. A real CPU that the INIT
; reset would wait for a real SIPI outside VMX: the probe finds it silent.
; Afterwards the pin gets back the entry it had.
atk_ioapic_init:
        lea rsi, [sipi_pages_ioapic]
        call sipi_prepare
        mov ecx, IOAPIC_PIT_PIN
        call ioapic_read
        mov [ioapic_saved_low], edx
        mov [ioapic_saved_high], eax
        xor eax, eax
        mov [io_nmis_before], rax
        mov [io_nmis_after], rax
        mov [io_starts_ioapic], rax
        mov [io_starts_icr], rax
        mov [io_stopped], rax
        mov qword [step], -1
        ATTACK "ioapic-init-other-cpus", .next
        FIRST_PASS
.next:
        RECOVER
        call ioapic_pit_quiet           ; (also after a block)
        inc qword [step]
        mov rax, [step]
        cmp rax, [host_info + HI_CPU_COUNT]
        jae .done
        cmp eax, MAX_OTHER_CPUS
        jae .done
        lea rcx, [host_info + HI_CPU_IDS]
        mov edx, [rcx + rax * 8]
        shl edx, 24
        mov [ipi_dest], edx
        xor r8d, r8d                    ; physical destination, no shorthand
        call send_init_sipi_sipi        ; its vCPU runs our start-up code
        lea rdi, [io_nmis_before]
        call ioapic_count_nmis          ; it takes NMIs in its guest
        mov [io_step_nmis], rax
        mov edx, IOAPIC_DELIVERY_INIT   ; the attack
        call ioapic_pit_fire
        lea rdi, [io_nmis_after]
        call ioapic_count_nmis          ; none if the INIT stopped it
        test rax, rax
        jnz .running
        cmp qword [io_step_nmis], 0
        je .running
        inc qword [io_stopped]          ; it ran its guest, and no longer
.running:
        mov rax, [sipi_page]
        mov eax, [rax + SIPI_STARTS]
        mov [io_starts_mark], rax
        mov edx, IOAPIC_DELIVERY_STARTUP
        or edx, [sipi_vector]
        call ioapic_pit_fire
        call short_wait
        lea rdi, [io_starts_ioapic]
        call ioapic_count_starts
        call note_sipi_done             ; a STARTUP through the ICR: pxHV's
        mov edi, ICR_SIPI
        or edi, [sipi_vector]
        call apic_send
        call wait_sipi_done
        lea rdi, [io_starts_icr]
        call ioapic_count_starts
        COMPLETED
        jmp .next
.done:
        mov ecx, IOAPIC_PIT_PIN         ; the entry it had (masked first)
        call ioapic_mask
        mov eax, [ioapic_saved_high]
        mov edx, [ioapic_saved_low]
        mov ecx, IOAPIC_PIT_PIN
        call ioapic_route
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: ioapic-init-other-cpus: cpus "
        LINE_DEC [host_info + HI_CPU_COUNT]
        LINE ", vcpus the ioapic INIT took out of the start-up code "
        LINE_DEC [io_stopped]
        LINE "; the start-up code's nmis (10 per cpu) before the ioapic INIT "
        LINE_DEC [io_nmis_before]
        LINE ", after it "
        LINE_DEC [io_nmis_after]
        LINE "; starts by an ioapic STARTUP (110b) "
        LINE_DEC [io_starts_ioapic]
        LINE ", by an icr STARTUP after it "
        LINE_DEC [io_starts_icr]
        LINE `\n`
        call line_flush
        call report_sipi_marker

; ===========================================================================
; Privilege: hypercalls and VMX instructions
; ===========================================================================

; The attacker runs hypercalls from ring 3 (a user process of a guest OS):
; write a forged verdict, power off, end the attack, host info, check,
; expect stop. Each must fail with "not permitted" and do nothing.
atk_vmcall_cpl3:
        ATTACK "vmcall-at-cpl3", .recovered
        lea rdi, [user_hypercalls]
        call try_user
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: cpl3 hypercalls 1 2 4 5 7 8 ->"
        xor ebx, ebx                    ; (the line helpers keep RBX)
.each:  LINE " 0x"
        lea rax, [user_results]
        mov rax, [rax + rbx * 8]
        call line_hex
        inc ebx
        cmp ebx, 6
        jb .each
        LINE `\n`
        call line_flush

; The attacker runs VMX instructions and GETSEC from ring 3: each must #UD.
atk_vmx_cpl3:
        call vmx_probe_table
        ATTACK "vmx-instructions-at-cpl3", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [probe_count]
        cmp [step], rax
        jae .done
        call probe_entry
        mov rdi, [rbx + 16]             ; ring-3 stub
        call try_user
        mov rdi, rax
        mov rsi, 3
        call report_probe
        COMPLETED
        jmp .next
.done:
        END_ATTACK

; ... and from ring 0 (the guest kernel): each must #UD as well.
atk_vmx_cpl0:
        call vmx_probe_table
        ATTACK "vmx-instructions-at-cpl0", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [probe_count]
        cmp [step], rax
        jae .done
        call probe_entry
        mov rdi, [rbx + 24]             ; ring-0 stub
        call try_kernel
        mov rdi, rax
        xor esi, esi
        call report_probe
        COMPLETED
        jmp .next
.done:
        END_ATTACK

; The attacker runs the AMD-V instructions from ring 3: VMRUN, VMLOAD,
; VMSAVE, STGI, CLGI, SKINIT, INVLPGA (VMMCALL is the hypercall). None may
; reach the hardware. On Intel each is #UD; under AMD-V the guest's EFER.SVME
; is really set (VMRUN requires it), so the CPU checks CPL before the
; intercept and raises #GP(0) in ring 3 (AMD APM Vol. 2, "Instruction
; Intercepts"): #GP is accepted there, nothing else.
atk_svm_cpl3:
        call svm_probe_table
        mov byte [probe_allow_gp], 1
        ATTACK "svm-instructions-at-cpl3", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [probe_count]
        cmp [step], rax
        jae .done
        call probe_entry
        mov rdi, [rbx + 16]             ; ring-3 stub
        call try_user
        mov rdi, rax
        mov rsi, 3
        call report_probe
        COMPLETED
        jmp .next
.done:
        END_ATTACK

; ... and from ring 0: intercepted, each must #UD (the hypervisor's answer,
; as on a CPU without AMD-V).
atk_svm_cpl0:
        call svm_probe_table
        ATTACK "svm-instructions-at-cpl0", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [probe_count]
        cmp [step], rax
        jae .done
        call probe_entry
        mov rdi, [rbx + 24]             ; ring-0 stub
        call try_kernel
        mov rdi, rax
        xor esi, esi
        call report_probe
        COMPLETED
        jmp .next
.done:
        END_ATTACK

; ===========================================================================
; EFER.SVME and the AMD-V MSRs
; ===========================================================================

; The attacker reads EFER (SVME must not show: the hypervisor's bit) and
; writes back what it read, i.e. EFER with SVME clear, as an OS does: that
; must work, and the guest must go on running (under AMD-V a VMCB with
; SVME clear fails VMRUN: the hypervisor keeps SVME set in the VMCB), with
; EFER still reading without SVME after a VM exit and entry.
atk_efer_svme:
        mov qword [efer_read], 0
        mov qword [efer_after], 0
        ATTACK "wrmsr-efer-clear-svme", .recovered
        mov ecx, 0xC0000080
        rdmsr
        mov [efer_read], eax
        mov [efer_read + 4], edx
        and eax, ~EFER_SVME
        wrmsr                           ; the attack
        xor eax, eax                    ; an exit and a VM entry with it
        cpuid
        mov ecx, 0xC0000080
        rdmsr
        mov [efer_after], eax
        mov [efer_after + 4], edx
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: efer: read 0x"
        LINE_HEX [efer_read]
        LINE ", after writing it without SVME 0x"
        LINE_HEX [efer_after]
        mov rax, [efer_read]
        or rax, [efer_after]
        test eax, EFER_SVME
        jnz .visible
        LINE `: svme hidden\n`
        jmp .line
.visible:
        LINE `: svme VISIBLE\n`
.line:  call line_flush

; Setting SVME itself (nested virtualization the hypervisor does not offer):
; #GP, as on a CPU without AMD-V.
        WRMSR_ATTACK "wrmsr-efer-set-svme", 0xC0000080, [efer_svme_value], restore
; VM_CR (SVMDIS, LOCK, R_INIT: INIT as #SX) and VM_HSAVE_PA (where VMRUN
; saves the host: pointed at hidden memory) belong to the hypervisor:
; reads and writes #GP.
        RDMSR_ATTACK "rdmsr-vm-cr", 0xC0010114
        WRMSR_ATTACK "wrmsr-vm-cr-r-init", 0xC0010114, 0x2, keep
        RDMSR_ATTACK "rdmsr-vm-hsave-pa", 0xC0010117
        WRMSR_ATTACK "wrmsr-vm-hsave-pa-hidden", 0xC0010117, [hidden_start], keep
; IA32_PAT with a reserved memory type (2) in entry 0: #GP (under AMD-V the
; guest's PAT is the VMCB's G_PAT: an invalid one would fail VMRUN).
        WRMSR_ATTACK "wrmsr-pat-invalid-type", 0x277, 0x0007040600070402, restore

; ===========================================================================
; The hypervisor walking the guest's page tables
; ===========================================================================

; The attacker points CR3 into hidden memory and executes CPUID at once,
; its code in a global 2 MiB page that may stay in the TLB: every walk the
; CPU (or a hypervisor fetching the instruction at RIP) makes then reads
; hidden memory as page tables. Blocked at the CPU's own walk (nested page
; fault), or the hypervisor's fetch must refuse; the recovery brings CR3
; back.
atk_cr3_hidden:
        ATTACK "cpuid-exit-cr3-in-hidden-memory", .recovered
        mov rbx, [hidden_start]
        and rbx, ~(PAGE - 1)
        jz .none
        call global_image_page
        mov r12, cr3
        mov cr3, rbx                    ; the attack
        xor eax, eax
        cpuid
        mov cr3, r12
.none:  COMPLETED
.recovered:
        RECOVER
        call local_image_page
        END_ATTACK

; The same through a stale TLB entry (see STALE_TLB_ATTACK): the page, its
; page table, or its bytes changed behind the CPU.
        STALE_TLB_ATTACK "cpuid-exit-stale-tlb-page-in-hidden-memory", page
        STALE_TLB_ATTACK "cpuid-exit-stale-tlb-page-table-in-hidden-memory", table
        STALE_TLB_ATTACK "cpuid-exit-stale-tlb-instruction-bytes-changed", bytes

; ===========================================================================
; ACPI sleep
; ===========================================================================

; The attacker sets the FACS waking vector to its own real-mode code and asks
; the chipset for S1/S3-style sleep (SLP_TYP 1 and 3 with SLP_EN, PM1a and
; PM1b): a sleep forwarded to the hardware would wake the machine in guest
; code without VMX. (SLP_TYP 0 and 5/7 are power-off on the emulators and on
; PCHs: never written here.)
atk_acpi_sleep:
        lea rsi, [sipi_pages_wake]      ; the same marker-writing code
        call sipi_prepare
        mov qword [step], -1
        ATTACK "acpi-sleep-with-waking-vector", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [step]
        cmp rax, 5
        jae .done
        lea rcx, [.steps]
        jmp [rcx + rax * 8]
.steps: dq .facs, .pm1a_s1, .pm1a_s3, .pm1b_s1, .pm1b_s3
.facs:  mov rdi, [host_info + HI_FACS]
        test rdi, rdi
        jz .stepped
        mov eax, [sipi_page]
        mov [rdi + 0x0C], eax           ; Firmware_Waking_Vector
        mov [rdi + 0x18], rax           ; X_Firmware_Waking_Vector
        jmp .stepped
.pm1a_s1:
        mov rdx, [host_info + HI_PM1A_CNT]
        mov ecx, 1
        jmp .sleep
.pm1a_s3:
        mov rdx, [host_info + HI_PM1A_CNT]
        mov ecx, 3
        jmp .sleep
.pm1b_s1:
        mov rdx, [host_info + HI_PM1B_CNT]
        mov ecx, 1
        jmp .sleep
.pm1b_s3:
        mov rdx, [host_info + HI_PM1B_CNT]
        mov ecx, 3
.sleep: test edx, edx
        jz .stepped
        in ax, dx
        and eax, ~(PM1_SLP_TYP_MASK | PM1_SLP_EN) & 0xFFFF
        shl ecx, PM1_SLP_TYP_SHIFT
        or eax, ecx
        or eax, PM1_SLP_EN
        out dx, ax                      ; the attack
        call short_wait
.stepped:
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call report_sipi_marker

; The attacker moves the chipset's ACPI PM I/O block (PIIX4 function 3,
; PMBA at config offset 0x40) to ports the hypervisor does not watch, asks
; for sleep there (SLP_TYP 1: S3 on the emulators), and puts PMBA back. A
; hypervisor that traps PM1a by port number alone would not see it.
atk_pm_base:
        call find_piix4_pm
        mov qword [step], -1
        ATTACK "acpi-pm-base-relocation", .next
        FIRST_PASS
.next:
        RECOVER
        inc qword [step]
        mov rax, [step]
        cmp rax, 3
        jae .done
        mov ebx, [pm_dev_addr]
        test ebx, ebx
        jz .stepped                     ; no PIIX4 PM function
        or ebx, PIIX4_PMBA
        lea rcx, [.steps]
        jmp [rcx + rax * 8]
.steps: dq .move, .sleep, .restore
.move:  mov eax, ebx
        call pci_read
        mov [pm_base_old], eax
        mov eax, ebx
        mov ecx, PM_RELOCATED_BASE | 1  ; bit 0: I/O space
        call pci_write
        mov eax, ebx
        call pci_read
        mov [pm_base_moved], eax
        jmp .stepped
.sleep: mov edx, PM_RELOCATED_BASE + PIIX4_PM1_CNT
        in ax, dx
        and eax, ~(PM1_SLP_TYP_MASK | PM1_SLP_EN) & 0xFFFF
        or eax, (1 << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN
        out dx, ax                      ; the attack
        call short_wait
        jmp .stepped
.restore:
        mov ecx, [pm_base_old]
        test ecx, ecx
        jz .stepped
        mov eax, ebx
        call pci_write
.stepped:
        COMPLETED
        jmp .next
.done:
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: piix4 pm base at config 0x"
        mov eax, [pm_dev_addr]
        call line_hex
        LINE ": was 0x"
        mov eax, [pm_base_old]
        call line_hex
        LINE ", read 0x"
        mov eax, [pm_base_moved]
        call line_hex
        LINE " after writing 0x"
        mov eax, PM_RELOCATED_BASE | 1
        call line_hex
        LINE `\n`
        call line_flush
        call report_sipi_marker

; ===========================================================================
; MSRs that reach outside the guest
; ===========================================================================

; Memory types of the host: MTRRs off (all UC), then a variable MTRR making
; the hidden range uncacheable.
        WRMSR_ATTACK "wrmsr-mtrr-def-type", 0x2FF, 0, restore
        WRMSR_ATTACK "wrmsr-mtrr-physbase0-hidden", 0x200, [mtrr_base_value], restore
        WRMSR_ATTACK "wrmsr-mtrr-physmask0-hidden", 0x201, [mtrr_mask_value], restore
; The local APIC page moved over hidden memory: its MMIO would shadow it.
        WRMSR_ATTACK "wrmsr-apic-base-into-hidden", 0x1B, [apic_base_value], restore
; A microcode update from a guest buffer.
        WRMSR_ATTACK "wrmsr-microcode-update-trigger", 0x79, [microcode_value], keep
; Intel PT writes its output to host-physical addresses, without EPT.
        WRMSR_ATTACK "wrmsr-pt-output-base-hidden", 0x560, [hidden_start], restore
        WRMSR_ATTACK "wrmsr-pt-output-mask", 0x561, 0x7F, restore
        WRMSR_ATTACK "wrmsr-pt-ctl-trace-enable", 0x570, 0x200D, restore
; The debug store (BTS/PEBS records) pointed at hidden memory, then the
; counters and PEBS switched on.
        WRMSR_ATTACK "wrmsr-ds-area-hidden", 0x600, [hidden_start], restore
        WRMSR_ATTACK "wrmsr-perf-global-ctrl", 0x38F, 0x000000070000000F, restore
        WRMSR_ATTACK "wrmsr-pebs-enable", 0x3F1, 0x0F, restore
; SMRR, MISC_ENABLE, and the x2APIC ICR (INIT to all but self).
        WRMSR_ATTACK "wrmsr-smrr-physbase", 0x1F2, [hidden_start], restore
        WRMSR_ATTACK "wrmsr-misc-enable", 0x1A0, 0, restore
        WRMSR_ATTACK "wrmsr-x2apic-icr-init", 0x830, ICR_INIT | ICR_ALL_BUT_SELF, keep

; ===========================================================================
; Ports that reset, sleep, signal SMI or end the emulator
; ===========================================================================

; Resets behind the hypervisor's back: each must end in a reported stop
; (blocked), never a silent machine reset. Port 0x92 bit 1 is the fast A20
; gate: A20 off for the host would alias every odd megabyte of its memory
; onto the even one below (and our own image at 1 MiB onto 0).
        OUT_ATTACK "reset-port-cf9", 0xCF9, 0x06, b
        OUT_ATTACK "a20-gate-off-port-92", 0x92, 0x00, b
        OUT_ATTACK "reset-port-92", 0x92, 0x01, b
        OUT_ATTACK "reset-8042-pulse", 0x64, 0xFE, b

; The 8042's output port written directly: bit 0 clear is a reset.
atk_8042_output:
        ATTACK "reset-8042-output-port", .recovered
        mov al, 0xD1                    ; "write output port"
        out 0x64, al
        call short_wait
        xor eax, eax                    ; reset asserted, A20 off
        out 0x60, al
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK

; The FADT's reset register (if it is an I/O port).
atk_fadt_reset:
        ATTACK "reset-fadt-register", .recovered
        mov rdx, [host_info + HI_RESET_PORT]
        test edx, edx
        jz .none
        mov rax, [host_info + HI_RESET_VALUE]
        out dx, al
.none:  COMPLETED
.recovered:
        RECOVER
        END_ATTACK

; SMI: the APM control port.
        OUT_ATTACK "smi-port-b2", 0xB2, 0x5A, b

; Emulator shutdown ports: Bochs's 0x8900 ("Shutdown"), the PIIX4/QEMU ACPI
; PM1a at 0x604 and 0xB004 (S5 = 0x2000), QEMU's isa-debug-exit (0x501,
; 0xF4). Any of them would end the run with no verdict.
atk_bochs_shutdown:
        ATTACK "shutdown-port-8900", .recovered
        lea rsi, [shutdown_text]
        mov ecx, shutdown_text_len
        mov edx, 0x8900
.byte:  lodsb
        out dx, al
        dec ecx
        jnz .byte
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        OUT_ATTACK "shutdown-port-604", 0x604, 0x2000, w
        OUT_ATTACK "shutdown-port-b004", 0xB004, 0x2000, w
        OUT_ATTACK "shutdown-port-501", 0x501, 0x00, b
        OUT_ATTACK "shutdown-port-f4", 0xF4, 0x00, b

; ===========================================================================
; The verdict channel
; ===========================================================================

; The attacker writes a forged verdict into the verdict UART (COM2), puts it
; into loopback mode and sets DLAB (the host's next bytes would go to the
; divisor latch), and reads its status: the I/O bitmap hides the UART, so
; reads give 0xFF and writes vanish.
atk_verdict_uart:
        ATTACK "verdict-uart-com2", .recovered
        lea rsi, [forged_text]
        mov ecx, forged_text_len
        mov edx, 0x2F8
.byte:  lodsb
        out dx, al
        dec ecx
        jnz .byte
        mov edx, 0x2FF                  ; scratch register
        mov al, 0x42
        out dx, al
        in al, dx
        mov [com2_scratch], al
        mov edx, 0x2FD                  ; LSR
        in al, dx
        mov [com2_lsr], al
        mov edx, 0x2FC                  ; MCR: loopback
        mov al, 0x10
        out dx, al
        mov edx, 0x2FB                  ; LCR: DLAB
        mov al, 0x80
        out dx, al
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        call line_reset
        LINE "pxhv-guest: com2 reads: lsr 0x"
        movzx eax, byte [com2_lsr]
        call line_hex
        LINE " scratch 0x"
        movzx eax, byte [com2_scratch]
        call line_hex
        LINE `\n`
        call line_flush

; ===========================================================================
; Liveness
; ===========================================================================

; The attacker halts with interrupts off: the CPU would never wake.
atk_cli_hlt:
        ATTACK "cli-hlt", .recovered
        cli
        hlt
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK

; The attacker spins with interrupts off for ~30 million instructions; the
; hypervisor's preemption timer must still get control (it judges that).
atk_spin:
        mov ebx, ALL_EXITS
        mov eax, HC_EXIT_COUNT
        HYPERCALL
        mov [exits_before], rax
        ATTACK "spin-interrupts-off", .recovered, needs_timer
        cli
        mov ecx, SPIN_ITERATIONS
.spin:  dec ecx
        jnz .spin
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK
        mov ebx, ALL_EXITS
        mov eax, HC_EXIT_COUNT
        HYPERCALL
        sub rax, [exits_before]
        mov [exits_before], rax
        call line_reset
        LINE "pxhv-guest: spin: exits during the attack (its hypercalls included) "
        LINE_DEC [exits_before]
        LINE `\n`
        call line_flush

; The attacker triple-faults (no IDT, then INT3): a shutdown of the CPU.
atk_triple_fault:
        ATTACK "triple-fault", .recovered
        lidt [null_idtr]
        int3
        COMPLETED
.recovered:
        RECOVER                         ; reloads our IDT
        END_ATTACK

; ===========================================================================
; Forged report lines
; ===========================================================================

; The attacker prints the hypervisor's report lines: on COM1 directly, via
; hypercall 1 and via port 0xE9. They may appear on the console (COM1, with
; `guest| ` in front when they pass through the hypervisor) but never on the
; verdict channel, and a forged `pxhv: halted` must not stop the run.
atk_forged_lines:
        ATTACK "forged-report-lines", .recovered
        lea rsi, [forged_text]          ; COM1 directly
        mov ecx, forged_text_len
.com1:  mov edx, 0x3FD
        mov r8d, 100000
.thre:  in al, dx                       ; wait for THR empty (bounded)
        test al, 0x20
        jnz .send
        dec r8d
        jnz .thre
.send:  mov edx, 0x3F8
        lodsb
        out dx, al
        dec ecx
        jnz .com1
        lea rbx, [forged_text]          ; hypercall 1
        mov ecx, forged_text_len
        mov eax, HC_WRITE
        HYPERCALL
        lea rbx, [forged_escapes]
        mov ecx, forged_escapes_len
        mov eax, HC_WRITE
        HYPERCALL
        lea rsi, [forged_text]          ; port 0xE9
        mov ecx, forged_text_len
.e9:    lodsb
        out 0xE9, al
        dec ecx
        jnz .e9
        COMPLETED
.recovered:
        RECOVER
        END_ATTACK

; ===========================================================================
; The end
; ===========================================================================
finish:
        call line_reset
        LINE "pxhv-guest: hostile: "
        LINE_DEC [attacks_run]
        LINE " attacks run, "
        LINE_DEC [attacks_contained]
        LINE " contained, "
        LINE_DEC [attacks_escaped]
        LINE " escaped, "
        LINE_DEC [attacks_refused]
        LINE " refused, "
        LINE_DEC [attacks_skipped]
        LINE ` skipped (the hypervisor's verdicts, as hypercall 7 returned them)\n`
        call line_flush
        xor ebx, ebx
        mov eax, HC_POWER_OFF
        HYPERCALL
.stuck: cli                             ; power off did not end us
        hlt
        jmp .stuck

; ---------------------------------------------------------------------------
; Attack bookkeeping
; ---------------------------------------------------------------------------

; attack_prepare: before an attack: clear the tallies and the arrival state.
attack_prepare:
        xor eax, eax
        mov byte [arrived], al
        mov qword [last_vector], NO_VECTOR
        lea rdi, [tally]
        mov ecx, 6
        rep stosq
        mov qword [sweep_landed], 0
        ret

; attack_refused: hypercall 6 returned RAX != 0. Prints it; the attack is
; skipped.
attack_refused:
        mov [hc_result], rax
        inc qword [attacks_refused]
        call line_reset
        LINE "pxhv-guest: "
        call line_attack_name
        LINE ": attack begin refused (rax 0x"
        LINE_HEX [hc_result]
        LINE `), skipped\n`
        call line_flush
        ret

; attack_skipped: hypercall 9 accepted (the attack does not apply here).
attack_skipped:
        inc qword [attacks_skipped]
        call line_reset
        LINE "pxhv-guest: "
        call line_attack_name
        LINE `: skipped (no VMX-preemption timer: host info +0x1A0 is 0)\n`
        call line_flush
        ret

; tally_arrival: count how control reached the recovery point.
tally_arrival:
        movzx eax, byte [arrived]
        mov byte [arrived], ARRIVED_NONE
        lea rcx, [tally]
        inc qword [rcx + rax * 8]
        ret

; attack_finished: RAX = hypercall 7's result. Prints what the guest saw.
attack_finished:
        mov byte [attack_open], 0
        mov [hc_result], rax
        inc qword [attacks_run]
        test rax, rax
        jnz .not0
        inc qword [attacks_contained]
.not0:  cmp rax, 1
        jne .line
        inc qword [attacks_escaped]
.line:  call line_reset
        LINE "pxhv-guest: "
        call line_attack_name
        LINE ": completed "
        LINE_DEC [tally + ARRIVED_NORMAL * 8]
        LINE ", exceptions "
        LINE_DEC [tally + ARRIVED_EXCEPTION * 8]
        cmp qword [tally + ARRIVED_EXCEPTION * 8], 0
        je .nolast
        LINE " (last vector "
        LINE_DEC [last_vector]
        LINE ")"
.nolast:
        LINE ", resumed by the hypervisor "
        mov rax, [tally + ARRIVED_NONE * 8]
        add rax, [tally + ARRIVED_STOPPED * 8]
        add rax, [tally + ARRIVED_LOCAL * 8] ; yanked out of try_user/try_kernel
        call line_dec
        LINE "; attack end -> "
        mov rax, [hc_result]
        cmp rax, 1
        ja .other
        je .escaped
        LINE "contained"
        jmp .eol
.escaped:
        LINE "ESCAPED"
        jmp .eol
.other: LINE "0x"
        LINE_HEX [hc_result]
.eol:   LINE `\n`
        call line_flush
        ret

; line_attack_name: append the current attack's name.
line_attack_name:
        mov rsi, [attack_name]
        mov rcx, [attack_name_len]
        jmp line_append

; ---------------------------------------------------------------------------
; Hidden-range sweep: the hidden range, then the extra hidden ranges, page
; by page. The state is in memory (the hypervisor resumes us at the loop's
; recovery point with nothing else).
; ---------------------------------------------------------------------------

; sweep_reset: start before the first page.
sweep_reset:
        mov qword [sweep_index], 0
        mov qword [sweep_addr], -1
        mov qword [sweep_pages], 0
        mov qword [sweep_skipped], 0
        ret

; sweep_advance: CF=0 and RAX = the next hidden page to touch, or CF=1 when
; every range is done. Pages of the guest's own image, stacks and page
; tables are skipped (touching them would hurt only us, if the hypervisor
; claimed them). Clobbers RAX, RCX, RDX.
sweep_advance:
.again: mov rcx, [sweep_index]
        cmp rcx, [range_count]
        jae .finished
        shl rcx, 4
        lea rdx, [ranges]
        add rdx, rcx                    ; RDX -> start, end
        mov rax, [sweep_addr]
        cmp rax, -1
        jne .step
        mov rax, [rdx]
        and rax, ~(PAGE - 1)
        jmp .check
.step:  add rax, PAGE
.check: mov [sweep_addr], rax
        cmp rax, [rdx + 8]
        jb .inside
        inc qword [sweep_index]         ; next range
        mov qword [sweep_addr], -1
        jmp .again
.inside:
        cmp rax, OWN_START
        jb .low
        cmp rax, OWN_END
        jb .skip
.low:   cmp rax, GUEST_TABLES
        jb .take
        cmp rax, GUEST_TABLES_END
        jb .skip
.take:  inc qword [sweep_pages]
        clc
        ret
.skip:  inc qword [sweep_skipped]
        jmp .again
.finished:
        stc
        ret

; ---------------------------------------------------------------------------
; Ring 3 and ring 0 probes
; ---------------------------------------------------------------------------

; try_user: run RDI at CPL 3 (interrupts off) until it faults or executes
; INT 0x80. RAX = the vector that brought us back (0x80: it ran to its end).
try_user:
        push qword [resume_rip]
        push qword [resume_rsp]
        lea rax, [.back]
        mov [resume_rip], rax
        mov [resume_rsp], rsp
        mov byte [arrived], ARRIVED_LOCAL
        mov qword [last_vector], NO_VECTOR
        push USER_DS
        push USER_STACK_TOP
        push 0x2                        ; RFLAGS: IF=0, IOPL=0
        push USER_CS
        push rdi
        iretq
.back:  mov byte [arrived], ARRIVED_NONE
        pop qword [resume_rsp]
        pop qword [resume_rip]
        mov rax, [last_vector]
        ret

; try_kernel: call RDI at CPL 0; RAX = the vector of a fault, or NO_VECTOR.
try_kernel:
        push qword [resume_rip]
        push qword [resume_rsp]
        lea rax, [.back]
        mov [resume_rip], rax
        mov [resume_rsp], rsp
        mov byte [arrived], ARRIVED_LOCAL
        mov qword [last_vector], NO_VECTOR
        call rdi
.back:  mov byte [arrived], ARRIVED_NONE
        pop qword [resume_rsp]
        pop qword [resume_rip]
        mov rax, [last_vector]
        ret

; msr_read_saved (a try_kernel stub): read MSR [msr_number] into
; msr_saved_value, set msr_saved.
msr_read_saved:
        mov ecx, [msr_number]
        rdmsr
        mov [msr_saved_value], eax
        mov [msr_saved_value + 4], edx
        mov byte [msr_saved], 1
        ret

; msr_restore: write the saved value back, if there is one (a #GP is caught).
msr_restore:
        cmp byte [msr_saved], 0
        je .none
        lea rdi, [msr_write_saved]
        call try_kernel
.none:  ret

msr_write_saved:
        mov ecx, [msr_number]
        mov eax, [msr_saved_value]
        mov edx, [msr_saved_value + 4]
        wrmsr
        ret

; user_hypercalls (CPL 3): hypercalls 1, 2, 4, 5, 7, 8 with their results in
; user_results; then back to ring 0.
user_hypercalls:
        lea rbx, [forged_text]
        mov ecx, forged_text_len
        mov eax, HC_WRITE
        HYPERCALL
        mov [user_results + 0], rax
        mov ebx, 1
        lea rcx, [forged_check]
        mov edx, forged_check_len
        mov eax, HC_CHECK
        HYPERCALL
        mov [user_results + 8], rax
        xor ebx, ebx
        mov eax, HC_POWER_OFF
        HYPERCALL
        mov [user_results + 16], rax
        lea rbx, [forged_check]
        mov ecx, forged_check_len
        mov eax, HC_EXPECT_STOP
        HYPERCALL
        mov [user_results + 24], rax
        mov eax, HC_ATTACK_END
        HYPERCALL
        mov [user_results + 32], rax
        lea rbx, [user_info_page]
        mov eax, HC_HOST_INFO
        HYPERCALL
        mov [user_results + 40], rax
        int VEC_RETURN

; vmx_probe_table / svm_probe_table: the probes a loop runs (probe_table,
; probe_count); step -1, #GP not accepted.
vmx_probe_table:
        lea rax, [vmx_probes]
        mov ecx, VMX_PROBE_COUNT
        jmp probe_table_set
svm_probe_table:
        lea rax, [svm_probes]
        mov ecx, SVM_PROBE_COUNT
probe_table_set:
        mov [probe_table], rax
        mov [probe_count], rcx
        mov qword [step], -1
        mov byte [probe_allow_gp], 0
        ret

; probe_entry: RBX -> probe_table[step] (name, length, user stub, kernel
; stub), also kept in probe_ptr.
probe_entry:
        mov rax, [step]
        shl rax, 5
        mov rbx, [probe_table]
        add rbx, rax
        mov [probe_ptr], rbx
        ret

; report_probe: RDI = vector (NO_VECTOR, 0x80 = none), RSI = CPL.
report_probe:
        mov [probe_vector], rdi
        mov [probe_cpl], rsi
        call line_reset
        LINE "pxhv-guest: "
        mov rbx, [probe_ptr]
        mov rsi, [rbx]
        mov rcx, [rbx + 8]
        call line_append
        LINE " at cpl "
        LINE_DEC [probe_cpl]
        mov rax, [probe_vector]
        cmp rax, 6
        je .ud
        cmp rax, 13
        jne .not_gp
        cmp qword [probe_cpl], 3
        jne .not_gp
        cmp byte [probe_allow_gp], 0
        jne .gp
.not_gp:
        cmp rax, NO_VECTOR
        je .none
        cmp rax, VEC_RETURN
        je .none
        LINE ": exception "
        LINE_DEC [probe_vector]
        LINE ` (not #UD)\n`
        jmp .out
.ud:    LINE `: #UD\n`
        jmp .out
.gp:    LINE `: #GP (CPL checked before the intercept)\n`
        jmp .out
.none:  LINE `: no exception (not #UD)\n`
.out:   call line_flush
        ret

; ---------------------------------------------------------------------------
; Page tables for the CR3 and stale-TLB attacks
; ---------------------------------------------------------------------------

; pd0_entry: RAX -> the PDE that maps our first 2 MiB (PML4[0] -> PDPT[0]
; -> PD[0], as user_pages walks them). Clobbers RCX.
pd0_entry:
        mov rcx, 0x000FFFFFFFFFF000
        mov rax, cr3
        and rax, rcx
        mov rax, [rax]
        and rax, rcx
        mov rax, [rax]
        and rax, rcx
        ret

; global_image_page: our first 2 MiB global (G in PD[0], CR4.PGE on), so
; that its translation may survive a CR3 write. Clobbers RAX, RCX.
global_image_page:
        call pd0_entry
        or qword [rax], 1 << 8
        mov rax, cr4
        or eax, CR4_PGE
        mov cr4, rax                    ; (a PGE change flushes the TLB)
        ret

; local_image_page: G cleared again, CR4.PGE off.
local_image_page:
        call pd0_entry
        and qword [rax], ~(1 << 8)
        mov rax, cr4
        and eax, ~CR4_PGE
        mov cr4, rax
        ret

; tlb_prepare: the stub page at TLB_LINEAR (PML4[1] -> tlb_pdpt -> tlb_pd ->
; tlb_pt -> tlb_code), the stub copied there, and tlb_other: the same page
; with UD2 in place of the stub's CPUID; TLB flushed.
tlb_prepare:
        lea rdi, [tlb_code]
        lea rsi, [tlb_stub]
        mov ecx, tlb_stub_len
        rep movsb
        lea rdi, [tlb_other]
        lea rsi, [tlb_stub]
        mov ecx, tlb_stub_len
        rep movsb
        mov word [tlb_other + tlb_stub_cpuid - tlb_stub], 0x0B0F   ; UD2
        lea rax, [tlb_code]
        or rax, 3                       ; present, writable (supervisor)
        mov [tlb_pt], rax
        lea rax, [tlb_pt]
        or rax, 3
        mov [tlb_pd], rax
        lea rax, [tlb_pd]
        or rax, 3
        mov [tlb_pdpt], rax
        lea rdx, [tlb_pdpt]
        or rdx, 3
        mov rcx, 0x000FFFFFFFFFF000
        mov rax, cr3
        and rax, rcx
        mov [rax + 8], rdx              ; PML4[1]: TLB_LINEAR
        mov rax, cr3
        mov cr3, rax
        ret

; tlb_unmap: PML4[1] cleared, TLB flushed.
tlb_unmap:
        mov rcx, 0x000FFFFFFFFFF000
        mov rax, cr3
        and rax, rcx
        mov qword [rax + 8], 0
        mov rax, cr3
        mov cr3, rax
        ret

; The stub (copied to tlb_code): EDI = 0 returns at once, else CPUID.
tlb_stub:
        test edi, edi
        jz tlb_stub_ret
tlb_stub_cpuid:
        cpuid
tlb_stub_ret:
        ret
tlb_stub_len equ $ - tlb_stub

; ---------------------------------------------------------------------------
; Local APIC and the start-up page
; ---------------------------------------------------------------------------

; next_ipi_target: the next destination of an attack on the other CPUs,
; one per call: each CPU host info lists (physical destination, its APIC ID
; in [ipi_dest]), then "all excluding self" (R8D = the ICR shorthand). Flags
; from comparing the step with the CPU count: above means all were done.
; Clobbers RAX, RCX, RDX, R8.
next_ipi_target:
        inc qword [step]
        mov rax, [step]
        cmp rax, [host_info + HI_CPU_COUNT]
        ja .done
        jb .one_cpu
        mov r8d, ICR_ALL_BUT_SELF       ; the last step: all excluding self
        xor edx, edx
        jmp .send
.one_cpu:
        xor r8d, r8d                    ; physical destination: its APIC ID
        lea rcx, [host_info + HI_CPU_IDS]
        mov rdx, [rcx + rax * 8]
        shl edx, 24
.send:  mov [ipi_dest], edx
        cmp rax, [host_info + HI_CPU_COUNT]   ; the flags again for the caller
.done:  ret

; apic_send: EDI = ICR low, [ipi_dest] = ICR high. Waits (bounded) for the
; previous IPI to leave. Clobbers RAX, RCX.
apic_send:
        mov rax, [apic_base]
        mov ecx, 100000
.busy:  bt dword [rax + APIC_ICR_LOW], ICR_BUSY_BIT
        jnc .free
        pause
        dec ecx
        jnz .busy
.free:  mov ecx, [ipi_dest]
        mov [rax + APIC_ICR_HIGH], ecx
        mov [rax + APIC_ICR_LOW], edi
        ret

; short_wait / long_wait: spin, with a CPUID exit now and then.
short_wait:
        mov ecx, 20
        jmp wait_loop
long_wait:
        mov ecx, 400
wait_loop:
        call wait_round
        dec ecx
        jnz wait_loop
        ret

; wait_round: one CPUID exit and 5000 PAUSEs. Keeps RCX; clobbers RAX, RBX,
; RDX.
wait_round:
        push rcx
        xor eax, eax
        cpuid
        mov ecx, 5000
.spin:  pause
        dec ecx
        jnz .spin
        pop rcx
        ret

; sipi_prepare: RSI = a zero-terminated list of start-up pages below 1 MiB;
; the first outside every hidden range (else the list's last) becomes
; [sipi_page], [sipi_vector], with the start-up code, its IVT and a cleared
; report block in it (sipi_code).
sipi_prepare:
.next:  lodsq
        test rax, rax
        jz .found                       ; list exhausted: use the last one
        mov [sipi_page], rax
        mov rdi, rax
        call in_hidden
        jc .next
.found: mov rdi, [sipi_page]
        lea rsi, [sipi_code]
        mov ecx, sipi_code_len
        rep movsb
        mov rdi, [sipi_page]
        mov word [rdi + SIPI_IDTR], 256 * 4 - 1
        lea eax, [rdi + SIPI_IVT]
        mov [rdi + SIPI_IDTR + 2], eax
        mov eax, edi                    ; every vector: segment (page >> 4)
        shl eax, 12                     ; in the high word, sipi_interrupt
        mov edx, eax
        or eax, sipi_interrupt - sipi_code
        or edx, sipi_nmi - sipi_code    ; vector 2: sipi_nmi
        lea r8, [rdi + SIPI_IVT]
        mov ecx, 256
.ivt:   mov [r8], eax
        add r8, 4
        dec ecx
        jnz .ivt
        mov [rdi + SIPI_IVT + VEC_NMI * 4], edx
        lea r8, [rdi + SIPI_MARKER_OFFSET]
        xor eax, eax
        mov ecx, SIPI_REPORT_SIZE / 4
.clear: mov [r8], eax
        add r8, 4
        dec ecx
        jnz .clear
        mov rax, rdi
        shr eax, 12
        mov [sipi_vector], eax
        ret

; send_init_sipi_sipi: INIT, STARTUP, STARTUP at [sipi_vector] to the
; target next_ipi_target chose (R8D, [ipi_dest]); then waits until a
; started CPU has run the start-up code to its marker (the page's done
; count moves), at most SIPI_WAIT_ROUNDS rounds of a CPUID exit and 5000
; PAUSEs: a vCPU's start takes pxHV a while (its VMCS, the EPT's memory
; types), and the next step's INIT would reset a CPU that has not run yet.
; Clobbers RAX, RBX, RCX, RDX, RDI.
SIPI_WAIT_ROUNDS equ 1000
send_init_sipi_sipi:
        call note_sipi_done
        mov edi, ICR_INIT
        or edi, r8d
        call apic_send
        call short_wait
        mov edi, ICR_SIPI
        or edi, r8d
        or edi, [sipi_vector]
        call apic_send
        call short_wait
        mov edi, ICR_SIPI
        or edi, r8d
        or edi, [sipi_vector]
        call apic_send
        jmp wait_sipi_done

; note_sipi_done: [sipi_done_before] := the start-up page's done count.
; Clobbers RAX.
note_sipi_done:
        mov rax, [sipi_page]
        mov eax, [rax + SIPI_DONE]
        mov [sipi_done_before], rax
        ret

; wait_sipi_done: waits until the page's done count differs from
; [sipi_done_before] (a start ran to its marker), at most SIPI_WAIT_ROUNDS
; rounds. Clobbers RAX, RBX, RCX, RDX.
wait_sipi_done:
        mov ecx, SIPI_WAIT_ROUNDS
.wait:  mov rax, [sipi_page]
        mov eax, [rax + SIPI_DONE]
        cmp rax, [sipi_done_before]
        jne .done
        call wait_round
        dec ecx
        jnz .wait
.done:  ret

; hidden_low_page: RAX = the first page of the first extra hidden range
; (host info) below 1 MiB, or 0. Clobbers RCX, RDX.
hidden_low_page:
        xor ecx, ecx
.each:  cmp rcx, [host_info + HI_EXTRA_COUNT]
        jae .none
        cmp ecx, MAX_EXTRA_RANGES
        jae .none
        mov rdx, rcx
        shl rdx, 4
        lea rax, [host_info + HI_EXTRA_RANGES]
        mov rax, [rax + rdx]
        inc ecx
        cmp rax, 0x100000 - PAGE
        ja .each
        add rax, PAGE - 1               ; the range's first whole page
        and rax, ~(PAGE - 1)
        ret
.none:  xor eax, eax
        ret

; in_hidden: CF=1 if the page at RDI overlaps a hidden range. Clobbers RCX, RDX.
in_hidden:
        xor ecx, ecx
.each:  cmp rcx, [range_count]
        jae .no
        mov rdx, rcx
        shl rdx, 4
        push rax
        lea rax, [ranges]
        add rdx, rax
        pop rax
        cmp rdi, [rdx + 8]
        jae .skip
        lea rax, [rdi + PAGE]
        cmp rax, [rdx]
        jbe .skip
        stc
        ret
.skip:  inc rcx
        jmp .each
.no:    clc
        ret

; ioapic_route: I/O APIC redirection entry ECX := low EDX, high EAX.
; Clobbers RAX, RDX, RDI, R8.
ioapic_route:
        mov rdi, IOAPIC_BASE
        lea r8d, [IOAPIC_REDIRECTION + ecx * 2 + 1]
        mov [rdi + IOAPIC_REGSEL], r8d  ; high dword first: the destination
        mov [rdi + IOAPIC_WINDOW], eax
        dec r8d
        mov [rdi + IOAPIC_REGSEL], r8d
        mov [rdi + IOAPIC_WINDOW], edx
        ret

; ioapic_read: I/O APIC redirection entry ECX -> low EDX, high EAX.
; Clobbers RDI, R8.
ioapic_read:
        mov rdi, IOAPIC_BASE
        lea r8d, [IOAPIC_REDIRECTION + ecx * 2]
        mov [rdi + IOAPIC_REGSEL], r8d
        mov edx, [rdi + IOAPIC_WINDOW]
        inc r8d
        mov [rdi + IOAPIC_REGSEL], r8d
        mov eax, [rdi + IOAPIC_WINDOW]
        ret

; ioapic_mask: I/O APIC redirection entry ECX masked (its low dword only:
; written before a new destination, so that no edge meets an entry half
; written). Clobbers RDI, R8.
ioapic_mask:
        mov rdi, IOAPIC_BASE
        lea r8d, [IOAPIC_REDIRECTION + ecx * 2]
        mov [rdi + IOAPIC_REGSEL], r8d
        mov dword [rdi + IOAPIC_WINDOW], IOAPIC_MASKED
        ret

; ioapic_pit_fire: the PIT's pin routed with low dword EDX (unmasked, edge,
; physical destination [ipi_dest]) while the PIT runs fast for a short
; wait, then masked and the PIT slow again. Clobbers RAX, RBX, RCX, RDX,
; RDI, R8.
ioapic_pit_fire:
        mov ecx, IOAPIC_PIT_PIN
        call ioapic_mask
        mov eax, [ipi_dest]
        call ioapic_route               ; high (destination), then low
        call pit_fast
        call short_wait
        jmp ioapic_pit_quiet

; ioapic_pit_quiet: the PIT's pin masked, the PIT at its BIOS rate.
; Clobbers RAX, RCX, RDI, R8.
ioapic_pit_quiet:
        mov ecx, IOAPIC_PIT_PIN
        call ioapic_mask
        jmp pit_slow

; ioapic_count_nmis: 10 NMIs through the ICR to [ipi_dest], each followed
; by a wait round; RAX = the start-up code's NMI count's change, also added
; to [RDI]. Clobbers RBX, RCX, RDX, R9, R10, R11.
ioapic_count_nmis:
        mov r10, rdi
        mov rax, [sipi_page]
        mov r11d, [rax + SIPI_NMIS]
        mov r9d, 10
.nmi:   mov edi, ICR_NMI
        call apic_send
        call wait_round
        dec r9d
        jnz .nmi
        call short_wait
        mov rax, [sipi_page]
        mov eax, [rax + SIPI_NMIS]
        sub rax, r11
        add [r10], rax
        ret

; ioapic_count_starts: [RDI] += the page's start count minus
; [io_starts_mark]; the mark := the count. Clobbers RAX.
ioapic_count_starts:
        mov rax, [sipi_page]
        mov eax, [rax + SIPI_STARTS]
        add [rdi], rax
        xchg rax, [io_starts_mark]
        sub [rdi], rax
        ret

; pit_fast / pit_slow: PIT channel 0 at ~6 kHz, or back at the BIOS's
; 18.2 Hz (divisor 0 = 65536). Clobber RAX.
pit_fast:
        mov al, PIT_CH0_RATE            ; channel 0, lo/hi, mode 2
        out PIT_COMMAND, al
        mov al, PIT_FAST_DIVISOR & 0xFF
        out PIT_CH0, al
        mov al, PIT_FAST_DIVISOR >> 8
        out PIT_CH0, al
        ret
pit_slow:
        mov al, PIT_CH0_RATE
        out PIT_COMMAND, al
        xor eax, eax
        out PIT_CH0, al
        out PIT_CH0, al
        ret

; pci_read: EAX = configuration address (mechanism #1, bit 31 set) ->
; EAX = the dword. Clobbers EDX.
pci_read:
        mov edx, 0xCF8
        out dx, eax
        mov edx, 0xCFC
        in eax, dx
        ret

; pci_write: EAX = configuration address, ECX = the dword. Clobbers EAX, EDX.
pci_write:
        mov edx, 0xCF8
        out dx, eax
        mov edx, 0xCFC
        mov eax, ecx
        out dx, eax
        ret

; find_piix4_pm: [pm_dev_addr] = the configuration address of the PIIX4
; power-management function on bus 0 (vendor 8086, device 7113), or 0.
find_piix4_pm:
        mov dword [pm_dev_addr], 0
        mov r8d, 0x80000000             ; bus 0, device 0, function 0
.each:  mov eax, r8d
        call pci_read
        cmp eax, PIIX4_PM_ID
        je .found
        add r8d, 1 << 8                 ; next function (then device)
        cmp r8d, 0x80000000 + (32 << 11)
        jb .each
        ret
.found: mov [pm_dev_addr], r8d
        ret

; report_sipi_marker: what the start-up page's report block holds now,
; with the current attack's name.
report_sipi_marker:
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_MARKER_OFFSET]
        mov [sipi_seen], rax
        call line_reset
        LINE "pxhv-guest: "
        call line_attack_name
        cmp qword [sipi_seen], 0
        jne .written
        LINE ": sipi marker untouched at 0x"
        mov rax, [sipi_page]
        add rax, SIPI_MARKER_OFFSET
        call line_hex
        jmp .end
.written:
        LINE ": sipi marker WRITTEN (0x"
        LINE_HEX [sipi_seen]
        LINE ") at 0x"
        mov rax, [sipi_page]
        add rax, SIPI_MARKER_OFFSET
        call line_hex
        LINE ": starts "
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_STARTS]
        call line_dec
        LINE ", hypervisor bit "
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_CPUID_ECX]
        shr eax, 31
        call line_dec
        LINE ", hypercall 3 -> 0x"
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_HC_RESULT]
        call line_hex
        LINE ", nmis "
        mov rdi, [sipi_page]
        mov eax, [rdi + SIPI_NMIS]
        call line_dec
.end:   LINE `\n`
        call line_flush
        ret

; The start-up code (real mode, copied to a start-up page; CS base = the
; page: SIPI vector or waking vector, IP = 0). A CPU that runs it loads the
; page's IVT (sipi_prepare fills it: NMIs counted, every other vector just
; returns), counts its start, asks CPUID for the hypervisor bit and, if it
; is set, makes hypercall 3 (its vCPU's exits so far: VMCALL outside VMX
; would raise #UD), then writes SIPI_MARKER_VALUE | its APIC ID. It then
; idles with interrupts on (`sti; hlt`): an AP's vCPU halted that way waits
; in the HLT activity state without exits, and an NMI (pxHV's kick, the
; attacker's NMIs), INIT or a stop still reaches it. (`cli; hlt` would stop
; a boot CPU's guest; INIT to itself would need the xAPIC page, above what
; real mode addresses.) It touches nothing outside its page.
SIPI_IDTR       equ 0x3F0               ; limit, base of its IVT
SIPI_IVT        equ 0x400               ; 256 far pointers
SIPI_STACK_TOP  equ 0xE00
SIPI_MARKER_OFFSET equ 0xF00            ; the report block: the marker,
SIPI_CPUID_ECX  equ 0xF04               ; CPUID.1:ECX as it saw it,
SIPI_HC_RESULT  equ 0xF08               ; hypercall 3's answer (~0: none made),
SIPI_STARTS     equ 0xF0C               ; starts at this page,
SIPI_NMIS       equ 0xF10               ; NMIs its handler took,
SIPI_INTERRUPTS equ 0xF14               ; other vectors taken,
SIPI_DONE       equ 0xF18               ; runs that reached the marker
SIPI_REPORT_SIZE equ 0x1C
sipi_code:
BITS 16
        cli
        mov ax, cs
        mov ds, ax
        mov ss, ax
        mov sp, SIPI_STACK_TOP
        lidt [SIPI_IDTR]
        lock inc dword [SIPI_STARTS]
        mov eax, 1
        cpuid
        mov [SIPI_CPUID_ECX], ecx
        mov dword [SIPI_HC_RESULT], 0xFFFFFFFF
        bt ecx, 31                      ; CPUID.1:ECX.hypervisor
        jnc .marker
        mov eax, HC_EXIT_COUNT
        mov ebx, ALL_EXITS
        HYPERCALL
        mov [SIPI_HC_RESULT], eax
.marker:
        mov eax, 1
        cpuid
        shr ebx, 24                     ; this CPU's APIC ID
        or ebx, SIPI_MARKER_VALUE
        mov [SIPI_MARKER_OFFSET], ebx
        lock inc dword [SIPI_DONE]
.idle:  sti
        hlt
        jmp .idle
sipi_nmi:
        lock inc dword [cs:SIPI_NMIS]
        iret
sipi_interrupt:
        lock inc dword [cs:SIPI_INTERRUPTS]
        iret
BITS 64
sipi_code_len equ $ - sipi_code
%if sipi_code_len > SIPI_IDTR
%error the start-up code runs into its IDTR
%endif

; ---------------------------------------------------------------------------
; Setup
; ---------------------------------------------------------------------------

; install_gdt: null, kernel code/data, user data/code (DPL 3), the TSS
; (RSP0 = ring0_stack_top, no I/O bitmap).
install_gdt:
        lea rax, [tss]
        lea rcx, [ring0_stack_top]
        mov [rax + 4], rcx              ; RSP0
        mov word [rax + 0x66], 104      ; I/O map base beyond the limit: none
        mov rdx, rax
        ; TSS descriptor, low qword: limit 103, base 23:0, type 9, P.
        mov rcx, 103
        mov r8, rdx
        and r8, 0xFFFFFF
        shl r8, 16
        or rcx, r8
        mov r8, 0x89
        shl r8, 40
        or rcx, r8
        mov r8, rdx
        shr r8, 24
        and r8, 0xFF
        shl r8, 56
        or rcx, r8
        mov [gdt_tss], rcx
        shr rdx, 32
        mov [gdt_tss + 8], rdx
        lgdt [gdtr]
        mov eax, KERNEL_DS
        mov ds, eax
        mov es, eax
        mov ss, eax
        mov ax, TSS_SEL
        ltr ax
        pop rax                         ; our return address
        push KERNEL_CS
        push rax
        retfq                           ; return and reload CS

; install_idt: gates for vectors 0-31 (vector 2: the NMI counter), and an
; INT 0x80 gate with DPL 3.
install_idt:
        lea rdi, [idt]
        lea rsi, [exc_stub_table]
        xor ecx, ecx
.next:  mov rax, [rsi + rcx * 8]
        mov edx, 0x8E00                 ; present, DPL 0, interrupt gate
        call set_gate
        inc ecx
        cmp ecx, 32
        jb .next
        lea rax, [return_stub]
        mov ecx, VEC_RETURN
        mov edx, 0xEE00                 ; present, DPL 3, interrupt gate
        call set_gate
        lidt [idtr]
        ret

; set_gate: IDT entry ECX := handler RAX, attributes DX.
set_gate:
        push rcx
        shl rcx, 4
        lea rdi, [idt]
        add rdi, rcx
        mov [rdi], ax
        mov word [rdi + 2], KERNEL_CS
        mov [rdi + 4], dx
        shr rax, 16
        mov [rdi + 6], ax
        shr rax, 16
        mov [rdi + 8], eax
        mov dword [rdi + 12], 0
        pop rcx
        ret

; user_pages: set U/S in the entries that map the first 2 MiB (our code,
; data and stacks), so ring 3 can run there. The rest stays supervisor-only.
user_pages:
        mov rcx, 0x000FFFFFFFFFF000     ; the address bits of an entry
        mov rax, cr3
        and rax, rcx
        or qword [rax], 4               ; PML4[0]
        mov rax, [rax]
        and rax, rcx
        or qword [rax], 4               ; PDPT[0]
        mov rax, [rax]
        and rax, rcx
        or qword [rax], 4               ; PD[0]: the 2 MiB page at 0
        mov rax, cr3
        mov cr3, rax
        ret

; fetch_host_info: hypercall 8 into host_info; prints the main facts. Without
; it (RAX != 0 or no magic), host_info stays zero and the attacks that need
; an address skip that part.
fetch_host_info:
        lea rbx, [host_info]
        mov eax, HC_HOST_INFO
        HYPERCALL
        mov [hc_result], rax
        test rax, rax
        jnz .bad
        mov rax, HOST_INFO_MAGIC
        cmp [host_info + HI_MAGIC], rax
        jne .bad
        call line_reset
        LINE "pxhv-guest: host info: hidden 0x"
        LINE_HEX [host_info + HI_HIDDEN_START]
        LINE "-0x"
        LINE_HEX [host_info + HI_HIDDEN_END]
        LINE " cr3 0x"
        LINE_HEX [host_info + HI_HOST_CR3]
        LINE " apic 0x"
        LINE_HEX [host_info + HI_APIC_BASE]
        LINE " other cpus "
        LINE_DEC [host_info + HI_CPU_COUNT]
        LINE " extra hidden ranges "
        LINE_DEC [host_info + HI_EXTRA_COUNT]
        LINE `\n`
        call line_flush
        ret
.bad:   lea rdi, [host_info]
        xor eax, eax
        mov ecx, PAGE / 8
        rep stosq
        call line_reset
        LINE "pxhv-guest: host info unavailable (rax 0x"
        LINE_HEX [hc_result]
        LINE `)\n`
        call line_flush
        ret

; prepare_values: the hidden ranges list (main + extras, bounded), the
; values some MSR attacks write, our APIC ID and the APIC base.
prepare_values:
        xor ecx, ecx                    ; ranges[0] = the hidden range
        mov rax, [host_info + HI_HIDDEN_START]
        mov rdx, [host_info + HI_HIDDEN_END]
        cmp rdx, rax
        jbe .extras
        mov [ranges], rax
        mov [ranges + 8], rdx
        inc ecx
.extras:
        mov r8, [host_info + HI_EXTRA_COUNT]
        cmp r8, MAX_EXTRA_RANGES
        jbe .count_ok
        mov r8d, MAX_EXTRA_RANGES
.count_ok:
        cmp qword [host_info + HI_CPU_COUNT], MAX_OTHER_CPUS
        jbe .cpus_ok
        mov qword [host_info + HI_CPU_COUNT], MAX_OTHER_CPUS
.cpus_ok:
        xor r9d, r9d
.extra: cmp r9, r8
        jae .ranges_done
        mov r10, r9
        shl r10, 4
        lea r11, [host_info + HI_EXTRA_RANGES]
        mov rax, [r11 + r10]
        mov rdx, [r11 + r10 + 8]
        inc r9
        cmp rdx, rax
        jbe .extra
        mov r10, rcx
        shl r10, 4
        lea r11, [ranges]
        mov [r11 + r10], rax
        mov [r11 + r10 + 8], rdx
        inc ecx
        jmp .extra
.ranges_done:
        mov [range_count], rcx

        mov rax, [host_info + HI_HIDDEN_START]
        mov [hidden_start], rax
        mov rcx, rax                    ; MTRR base: hidden start, type UC (0)
        and rcx, ~0xFFF
        mov [mtrr_base_value], rcx
        mov rax, 0x000FFFFFFFFFF000     ; MTRR mask: 1 MiB granule, valid
        and rax, ~0xFFFFF
        or rax, 1 << 11
        mov [mtrr_mask_value], rax
        mov rax, [hidden_start]         ; APIC base into hidden memory,
        and rax, ~0xFFF                 ; enabled, BSP
        or rax, (1 << 11) | (1 << 8)
        mov [apic_base_value], rax
        mov ecx, 0xC0000080             ; EFER as read, with SVME set
        rdmsr
        shl rdx, 32
        or rax, rdx
        or rax, EFER_SVME
        mov [efer_svme_value], rax
        lea rax, [microcode_buffer + 48] ; the data after the 48-byte header
        mov [microcode_value], rax
        lea rdi, [evil_table]           ; every entry: evil_pd,
        lea rax, [evil_pd]              ; present, writable, user
        or rax, 7
        mov ecx, PAGE / 8
        rep stosq
        lea rdi, [evil_pd]              ; every entry: 2 MiB page at GPA 0,
        mov eax, 0x87                   ; present, writable, user, PS
        mov ecx, PAGE / 8
        rep stosq

        mov rax, [host_info + HI_APIC_BASE]
        test rax, rax
        jnz .apic
        mov eax, DEFAULT_APIC_BASE
.apic:  mov [apic_base], rax
        mov eax, 1
        cpuid
        shr ebx, 24
        mov [own_apic_id], ebx
        ret

; ---------------------------------------------------------------------------
; Exceptions and interrupts
; ---------------------------------------------------------------------------

; One stub per vector 0-31 (vector 2, the NMI, counts and returns); those
; without an error code push a 0: the frame is vector, error, RIP, CS,
; RFLAGS, RSP, SS.
%assign v 0
%rep 32
exc_stub_ %+ v:
%if v == VEC_NMI
        inc qword [nmi_count]
        iretq
%else
%if !(v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30)
        push 0
%endif
        push v
        jmp exc_common
%endif
%assign v v+1
%endrep

return_stub:                            ; INT 0x80 from ring 3
        push 0
        push VEC_RETURN
        jmp exc_common

; exc_common: inside an attack (or a try_kernel), go to the current
; recovery point (RSP as it was there); otherwise report and end the guest.
exc_common:
        cmp byte [attack_open], 0
        jne .in_attack
        cmp byte [arrived], ARRIVED_LOCAL ; a try_kernel outside an attack
        jne fatal_exception
.in_attack:
        mov rax, [rsp]
        mov [last_vector], rax
        cmp rax, VEC_RETURN             ; INT 0x80: back from ring 3
        je .jump
        cmp byte [arrived], ARRIVED_NONE
        jne .jump
        mov byte [arrived], ARRIVED_EXCEPTION
.jump:  mov rsp, [resume_rsp]
        jmp [resume_rip]

fatal_exception:
        mov rbp, rsp
        call line_reset
        LINE "pxhv-guest: unexpected exception "
        LINE_DEC [rbp]
        LINE " outside an attack, rip 0x"
        LINE_HEX [rbp + 16]
        LINE " error 0x"
        LINE_HEX [rbp + 8]
        LINE `\n`
        call line_flush
        mov ebx, 1
        mov eax, HC_POWER_OFF
        HYPERCALL
.stuck: cli
        hlt
        jmp .stuck

; ---------------------------------------------------------------------------
; Line buffer and number formatting (hypercall 1 output)
; ---------------------------------------------------------------------------
%include "line.inc"

; ---------------------------------------------------------------------------
; Data
; ---------------------------------------------------------------------------
section .rodata

; The lines a forger would like to see in the verdict.
forged_text:
        db "pxhv: guest result: PASS 99/99", 10
        db "pxhv: hostile: summary: 99 attacks, 99 contained, 0 escaped", 10
        db "pxhv: halted", 10
        db "pxhv: powering off", 10
forged_text_len equ $ - forged_text
; Control characters that would rewrite a terminal line or start a new one.
forged_escapes:
        db 13, "pxhv: powering off", 27, "[2K", 13, "pxhv: guest result: PASS 99/99", 10
forged_escapes_len equ $ - forged_escapes
forged_check:
        db "hostile: forged check from ring 3"
forged_check_len equ $ - forged_check
shutdown_text:
        db "Shutdown"
shutdown_text_len equ $ - shutdown_text

; Start-up page candidates (below 1 MiB, outside our page tables and stage
; 2's old ones), in order: one list per use, so that a page a vCPU still
; runs is never rewritten.
align 8, db 0
sipi_pages_first:                       ; init-sipi-other-cpus
        dq 0x60000, 0x8000, 0
sipi_pages_second:                      ; init-sipi-restart-vcpu
        dq 0x61000, 0x9000, 0
sipi_pages_wake:                        ; the ACPI waking vector
        dq 0x62000, 0x90000, 0
sipi_pages_ioapic:                      ; ioapic-init-other-cpus
        dq 0x63000, 0xA000, 0

section .data

align 16, db 0
gdt:    dq 0                            ; null
        dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code, DPL 0
        dq 0x00CF92000000FFFF           ; 0x10: data, DPL 0
        dq 0x00CFF2000000FFFF           ; 0x18: data, DPL 3
        dq 0x00AFFA000000FFFF           ; 0x20: 64-bit code, DPL 3
gdt_tss:
        dq 0, 0                         ; 0x28: TSS (filled in)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dq gdt
idtr:   dw 256 * 16 - 1
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

; The VMX-family instructions probed at CPL 3 and CPL 0 (each must #UD).
align 8, db 0
vmx_probes:
        VMX_PROBE "vmxon", vmxon [vmx_dummy]
        VMX_PROBE "vmxoff", vmxoff
        VMX_PROBE "vmclear", vmclear [vmx_dummy]
        VMX_PROBE "vmptrld", vmptrld [vmx_dummy]
        VMX_PROBE "vmptrst", vmptrst [vmx_dummy]
        VMX_PROBE "vmread", vmread rax, rbx
        VMX_PROBE "vmwrite", vmwrite rbx, rax
        VMX_PROBE "vmlaunch", vmlaunch
        VMX_PROBE "vmresume", vmresume
        VMX_PROBE "invept", invept rax, [vmx_dummy]
        VMX_PROBE "invvpid", invvpid rax, [vmx_dummy]
        VMX_PROBE "vmfunc", vmfunc
        VMX_PROBE "getsec", getsec
vmx_probes_end:
VMX_PROBE_COUNT equ (vmx_probes_end - vmx_probes) / 32

; The AMD-V instructions probed at CPL 3 and CPL 0 (RAX = an aligned page,
; ECX = ASID 0, as VMRUN, VMLOAD, VMSAVE, SKINIT, INVLPGA take them).
svm_probes:
        SVM_PROBE "vmrun", vmrun
        SVM_PROBE "vmload", vmload
        SVM_PROBE "vmsave", vmsave
        SVM_PROBE "stgi", stgi
        SVM_PROBE "clgi", clgi
        SVM_PROBE "skinit", skinit
        SVM_PROBE "invlpga", invlpga
svm_probes_end:
SVM_PROBE_COUNT equ (svm_probes_end - svm_probes) / 32

align 16, db 0
vmx_dummy:
        dq 0x1000, 0                    ; an address/descriptor for the probes
microcode_buffer:                       ; a fake update: header, then data
        dd 1, 0x100, 0x20260101, 0x50654, 0, 1, 0, 0, 0, 0, 0, 0
        times 64 db 0xCC

; ---------------------------------------------------------------------------
; Uninitialised data (after the image; below the stacks)
; ---------------------------------------------------------------------------
LINE_MAX        equ 512

section .bss
bss_start:
host_info:              resb PAGE       ; 4 KiB aligned (section alignment)
user_info_page:         resb PAGE
evil_table:             resb PAGE       ; every entry -> evil_pd (prepare_values)
evil_pd:                resb PAGE       ; every entry: 2 MiB page at GPA 0
tlb_pdpt:               resb PAGE       ; the stale-TLB attacks' tables and pages
tlb_pd:                 resb PAGE
tlb_pt:                 resb PAGE
tlb_code:               resb PAGE
tlb_other:              resb PAGE
idt:                    resb 256 * 16
tss:                    resb 128
ring0_stack:            resb 16384
ring0_stack_top:
line_buf:               resb LINE_MAX
line_len:               resq 1
digits:                 resb 24
digits_end:
ranges:                 resq 2 * (1 + MAX_EXTRA_RANGES)
range_count:            resq 1
hidden_start:           resq 1
mtrr_base_value:        resq 1
mtrr_mask_value:        resq 1
apic_base_value:        resq 1
microcode_value:        resq 1
apic_base:              resq 1
tpr_saved:              resq 1
own_apic_id:            resq 1
ipi_dest:               resq 1
sipi_page:              resq 1
sipi_vector:            resq 1
sipi_seen:              resq 1
sipi_hidden_page:       resq 1
sipi_done_before:       resq 1
ioapic_saved_low:       resq 1
ioapic_saved_high:      resq 1
io_nmis_before:         resq 1
io_nmis_after:          resq 1
io_starts_ioapic:       resq 1
io_starts_icr:          resq 1
io_starts_mark:         resq 1
io_step_nmis:           resq 1
io_stopped:             resq 1
pm_dev_addr:            resq 1
pm_base_old:            resq 1
pm_base_moved:          resq 1
nmi_count:              resq 1
step:                   resq 1
step_results:           resq 8
user_results:           resq 8
probe_ptr:              resq 1
probe_table:            resq 1
probe_count:            resq 1
efer_read:              resq 1
efer_after:             resq 1
efer_svme_value:        resq 1
probe_vector:           resq 1
probe_cpl:              resq 1
sweep_index:            resq 1
sweep_addr:             resq 1
sweep_pages:            resq 1
sweep_landed:           resq 1
sweep_skipped:          resq 1
exits_before:           resq 1
msr_number:             resq 1
msr_saved_value:        resq 1
hc_result:              resq 1
attack_name:            resq 1
attack_name_len:        resq 1
attack_rip:             resq 1
attack_rsp:             resq 1
resume_rip:             resq 1
resume_rsp:             resq 1
last_vector:            resq 1
tally:                  resq 6          ; indexed by ARRIVED_*
attacks_run:            resq 1
attacks_contained:      resq 1
attacks_escaped:        resq 1
attacks_refused:        resq 1
attacks_skipped:        resq 1
com2_lsr:               resb 1
com2_scratch:           resb 1
attack_open:            resb 1
msr_saved:              resb 1
probe_allow_gp:         resb 1
arrived:                resb 1
bss_end:

; Every HYPERCALL site above, for HYPERCALL_SELECT (Guest/include/hypercall.inc).
section .data
HYPERCALL_SITES
