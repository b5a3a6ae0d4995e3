; pxHV stage 2: real mode -> long mode, payload loading.
;
; Loaded by stage 1 to STAGE2_ADDRESS from image bytes [IMAGE_STAGE2_OFFSET,
; IMAGE_PAYLOAD_OFFSET); entered at its first byte in real mode with
; CS=DS=ES=SS=0, the handoff block (drive, flags, bytes per sector, base
; LBA) at HANDOFF_ADDRESS and stage 1's two TSC marks on the stack
; (STAGE1_TSC_*). In order:
;   1. console: COM1 (115200 8N1) and the VGA text buffer, written directly;
;   2. CPU check: CPUID.80000001h:EDX.LM (and 1 GiB page support);
;   3. A20 on (already / INT 15h AX=2401h / port 92h / 8042), verified;
;   4. BootInfo page zeroed and filled; the E820 map copied into it;
;   5. payload: manifest checked, then copied to PAYLOAD_BASE chunk by chunk
;      (INT 13h into the bounce buffer, then a protected-mode copy);
;   6. identity page tables; GDT; long mode; jump to the payload entry with
;      RDI = BOOTINFO_ADDRESS.
; Along the way it records the boot timeline in BootInfo (BI_TSC_*): the
; TSC at stage 1's and its own start and at the jump, and the TSC ticks
; spent inside INT 13h reads.
; Every failure prints one `pxhv: error: boot: ...` line and halts.
;
; Build: nasm -f bin -I Boot/ Boot/stage2.asm -o stage2.bin

%include "layout.inc"
%include "pc.inc"

; --- stage 2 internals ----------------------------------------------------------
STACK_TOP               equ STAGE1_ADDRESS  ; real-mode stack, also RSP at entry
BOUNCE_SEGMENT          equ BOUNCE_BUFFER >> 4
; One INT 13h transfer per chunk: a multiple of CD_SECTOR_SIZE (so the LBA
; math is exact for 512- and 2048-byte sectors), <= 127 sectors of 512 bytes
; (the EDD per-call limit) and within the 64 KiB bounce buffer. 62 KiB is
; 124 disk sectors or 31 CD sectors.
PAYLOAD_CHUNK_SIZE      equ 31 * CD_SECTOR_SIZE
MANIFEST_MIN_SIZE       equ MANIFEST_LOAD_ADDRESS + 8 ; the fields stage 2 reads
A20_PROBE_ADDRESS       equ HANDOFF_ADDRESS + 0x100   ; scratch byte in free low memory
A20_WRAP_DISTANCE       equ 0x10            ; FFFF:x+10h is 1 MiB above 0000:x
A20_TEST_TRIES          equ 0x4000          ; ~16 ms of port 80h delays per method
POST_DELAY_PORT         equ 0x80            ; an I/O write here takes ~1 us
KBC_WAIT_POLLS          equ 0xFFFF          ; status reads before giving up on the 8042
MAX_LOADABLE_SIZE       equ 0x100000000 - PAYLOAD_BASE ; 32-bit copies: stay below 4 GiB
; The CRC-32 tables of verify_hypervisor (4 x 1 KiB): in the bounce buffer,
; which is free once the payload is loaded.
CRC_TABLE_0             equ BOUNCE_BUFFER
CRC_TABLE_1             equ BOUNCE_BUFFER + 1024
CRC_TABLE_2             equ BOUNCE_BUFFER + 2048
CRC_TABLE_3             equ BOUNCE_BUFFER + 3072
MIN_MAP_GIB             equ 4               ; always map the 4 GiB below: MMIO hole, LAPIC, IOAPIC
KIB_SHIFT               equ 10

; GDT selectors (the table is at the end of this file)
SEL_CODE64              equ STAGE2_GDT_CODE64
SEL_DATA                equ STAGE2_GDT_DATA
SEL_CODE32              equ 0x18
SEL_CODE16              equ 0x20
SEL_DATA16              equ 0x28

; STATIC_ASSERT condition: the build fails ("TIMES value -1 is negative")
; when the condition is false.
%macro STATIC_ASSERT 1
    times -!(%1) db 0
%endmacro

; PRINT "format", args...: print one line (a newline is appended) on COM1
; and VGA. Format directives take one dword argument each, except %q:
;   %d decimal, %x hex (no leading zeros), %b two hex digits,
;   %q 64-bit hex from two arguments (low dword, high dword),
;   %s NUL-terminated string at the 16-bit address given.
; Arguments are anything `push dword` accepts. All registers and flags
; except the arithmetic flags are preserved.
%macro PRINT 1-*
    push si
    %rep %0 - 1
        %rotate -1
        push dword %1
    %endrep
    %rotate -1
    mov si, %%text
    call printf
    %if %0 > 1
        add sp, 4 * (%0 - 1)
    %endif
    pop si
    jmp %%done
%%text: db %1, 10, 0
%%done:
%endmacro

; FAIL "pxhv: error: boot: ...", args...: print the line and halt for good.
%macro FAIL 1-*
    PRINT %{1:-1}
    jmp halt16
%endmacro

bits 16
org STAGE2_ADDRESS

STATIC_ASSERT PAYLOAD_CHUNK_SIZE % CD_SECTOR_SIZE == 0
STATIC_ASSERT PAYLOAD_CHUNK_SIZE / DISK_SECTOR_SIZE <= INT13_MAX_SECTORS
STATIC_ASSERT PAYLOAD_CHUNK_SIZE <= BOUNCE_BUFFER_SIZE
STATIC_ASSERT IMAGE_PAYLOAD_OFFSET % CD_SECTOR_SIZE == 0
STATIC_ASSERT BOOTINFO_SIZE <= PAGE_SIZE
STATIC_ASSERT BI_TSC_STAGE1 >= BI_E820_ENTRIES + E820_MAX_ENTRIES * E820_ENTRY_SIZE

stage2_main:
    ; The boot timeline (BootInfo BI_TSC_*): this stage's first mark, and
    ; stage 1's two from its stack, taken before anything is pushed over
    ; them (DS = 0 at entry).
    rdtsc
    mov [tsc_stage2], eax
    mov [tsc_stage2 + 4], edx
    mov eax, [STAGE1_TSC_START]
    mov [tsc_stage1], eax
    mov eax, [STAGE1_TSC_START + 4]
    mov [tsc_stage1 + 4], eax
    mov eax, [STAGE1_TSC_READ]
    mov [tsc_stage1_read], eax
    mov eax, [STAGE1_TSC_READ + 4]
    mov [tsc_stage1_read + 4], eax
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP                  ; upper half zero: ESP is used in pmode
    sti
    cld

    call console_init
    movzx eax, byte [HANDOFF_ADDRESS + HO_DRIVE]
    movzx ebx, word [HANDOFF_ADDRESS + HO_BYTES_PER_SECTOR]
    mov ecx, media_disk
    test byte [HANDOFF_ADDRESS + HO_FLAGS], BOOTINFO_FLAG_ELTORITO
    jz .medium
    mov ecx, media_cd
.medium:
    PRINT "pxhv: boot: stage 2 (drive 0x%x, %d-byte sectors, %s at LBA %d)", eax, ebx, ecx, [HANDOFF_ADDRESS + HO_BASE_LBA]

    ; Fail early on a CPU that cannot run the payload, before loading it.
    call check_long_mode
    call enable_a20
    call init_bootinfo
    call collect_e820
    call load_payload
    call build_page_tables
    jmp enter_long_mode

media_disk: db "disk image", 0
media_cd:   db "El Torito image", 0

; halt16: stop for good (interrupts off; HLT again after an NMI or SMI).
halt16:
    cli
    hlt
    jmp halt16

; ==============================================================================
; CPU
; ==============================================================================

; check_long_mode: CPUID must exist (EFLAGS.ID toggles), report extended
; leaf 80000001h, and set EDX bit 29 (LM) there (Intel SDM Vol. 2A, CPUID).
; Sets BOOTINFO_FLAG_1G_PAGES in cpu_flags when EDX bit 26 (Page1GB) is set.
check_long_mode:
    pushfd
    pop eax
    mov ecx, eax
    xor eax, EFLAGS_ID
    push eax
    popfd
    pushfd
    pop eax
    push ecx
    popfd
    xor eax, ecx
    test eax, EFLAGS_ID
    jz .no_long_mode
    mov eax, CPUID_EXT_MAX
    cpuid
    cmp eax, CPUID_EXT_FEATURES
    jb .no_long_mode
    mov eax, CPUID_EXT_FEATURES
    cpuid
    test edx, CPUID_EXT_EDX_LM
    jz .no_long_mode
    mov eax, no
    test edx, CPUID_EXT_EDX_PAGE1GB
    jz .print
    or byte [cpu_flags], BOOTINFO_FLAG_1G_PAGES
    mov eax, yes
.print:
    PRINT "pxhv: boot: CPU has long mode (1 GiB pages: %s)", eax
    ret
.no_long_mode:
    FAIL "pxhv: error: boot: CPU has no long mode (CPUID.80000001h:EDX.LM=0)"

yes: db "yes", 0
no:  db "no", 0

; ==============================================================================
; A20
; ==============================================================================

; enable_a20: make address bit 20 work, trying the gentlest method first:
; already on (SeaBIOS leaves it on), INT 15h AX=2401h, "fast A20" through
; System Control Port A (92h), then the 8042 output port. Each method is
; verified with the wraparound test, not trusted.
enable_a20:
    mov eax, a20_already
    call a20_is_on
    jnz .enabled

    mov ax, INT15_A20_ENABLE
    int 0x15
    mov eax, a20_bios
    call a20_wait
    jnz .enabled

    ; Port 92h: set bit 1 (A20), keep bit 0 (fast reset) clear.
    in al, SYSCTRL_PORT_A
    or al, SYSCTRL_A20
    and al, ~SYSCTRL_RESET & 0xFF
    out SYSCTRL_PORT_A, al
    mov eax, a20_fast
    call a20_wait
    jnz .enabled

    ; 8042: command D1h (write output port), then the new port value.
    call kbc_wait
    mov al, KBC_WRITE_OUTPUT_PORT
    out KBC_COMMAND, al
    call kbc_wait
    mov al, KBC_OUTPUT_A20_ON
    out KBC_DATA, al
    call kbc_wait
    mov eax, a20_kbc
    call a20_wait
    jnz .enabled
    FAIL "pxhv: error: boot: cannot enable A20 (BIOS, port 92h and 8042 all failed)"
.enabled:
    PRINT "pxhv: boot: A20 on (%s)", eax
    ret

a20_already: db "already on", 0
a20_bios:    db "INT 15h AX=2401h", 0
a20_fast:    db "port 92h", 0
a20_kbc:     db "8042 keyboard controller", 0

; a20_is_on: ZF=0 if A20 is on. Writes different bytes to 0000:x and
; FFFF:x+10h (= x + 1 MiB); with A20 off both name the same byte.
; The original bytes are restored.
a20_is_on:
    push ds
    push es
    pusha
    xor ax, ax
    mov ds, ax
    dec ax
    mov es, ax                          ; ES = FFFFh
    mov si, A20_PROBE_ADDRESS
    mov di, A20_PROBE_ADDRESS + A20_WRAP_DISTANCE
    mov bl, [si]
    mov bh, [es:di]
    mov byte [si], 0x00
    mov byte [es:di], 0xFF
    mov al, [si]                        ; FFh if the second write wrapped
    mov [es:di], bh
    mov [si], bl
    cmp al, 0xFF
    popa
    pop es
    pop ds
    ret

; a20_wait: poll a20_is_on for a while (the 8042 is slow). ZF=0 if on.
a20_wait:
    push cx
    mov cx, A20_TEST_TRIES
.poll:
    call a20_is_on
    jnz .done
    out POST_DELAY_PORT, al
    loop .poll
    cmp cx, cx                          ; ZF=1: still off
.done:
    pop cx
    ret

; kbc_wait: wait (bounded) until the 8042 input buffer is empty.
kbc_wait:
    push cx
    mov cx, KBC_WAIT_POLLS
.poll:
    in al, KBC_STATUS
    test al, KBC_STATUS_INPUT_FULL
    loopnz .poll
    pop cx
    ret

; ==============================================================================
; BootInfo and E820
; ==============================================================================

; init_bootinfo: zero the BootInfo page, fill the header fields known now.
init_bootinfo:
    mov di, BOOTINFO_ADDRESS
    mov cx, PAGE_SIZE / 4
    xor eax, eax
    rep stosd
    mov bx, BOOTINFO_ADDRESS
    mov dword [bx + BI_MAGIC], BOOTINFO_MAGIC
    mov word [bx + BI_VERSION], BOOTINFO_VERSION
    mov al, [HANDOFF_ADDRESS + HO_DRIVE]
    mov [bx + BI_BOOT_DRIVE], al
    mov al, [HANDOFF_ADDRESS + HO_FLAGS]
    and al, BOOTINFO_FLAG_ELTORITO
    mov [bx + BI_FLAGS], al
    movzx eax, word [HANDOFF_ADDRESS + HO_BYTES_PER_SECTOR]
    mov [bx + BI_BYTES_PER_SECTOR], eax
    ; The timeline so far; BI_TSC_DISK starts with stage 1's read (up to
    ; this stage's first instruction), read_image adds the rest.
    mov eax, [tsc_stage1]
    mov edx, [tsc_stage1 + 4]
    mov [bx + BI_TSC_STAGE1], eax
    mov [bx + BI_TSC_STAGE1 + 4], edx
    mov eax, [tsc_stage2]
    mov edx, [tsc_stage2 + 4]
    mov [bx + BI_TSC_STAGE2], eax
    mov [bx + BI_TSC_STAGE2 + 4], edx
    sub eax, [tsc_stage1_read]
    sbb edx, [tsc_stage1_read + 4]
    mov [bx + BI_TSC_DISK], eax
    mov [bx + BI_TSC_DISK + 4], edx
    ret

; collect_e820: copy the BIOS memory map into BootInfo with INT 15h
; EAX=E820h (ACPI spec, "INT 15H, E820H - Query System Address Map"),
; up to E820_MAX_ENTRIES entries; zero-length entries are dropped. The
; extended-attributes dword is preset to 1 (ACPI 3.0 "enabled") for BIOSes
; that return only 20 bytes. Also computes ram_top, the end of the highest
; RAM entry.
collect_e820:
    mov di, BOOTINFO_ADDRESS + BI_E820_ENTRIES
    xor ebx, ebx                        ; continuation value: 0 = first call
    xor si, si                          ; entries kept
.next:
    mov dword [di + E820_EXTENDED], E820_ACPI3_ENABLED
    mov eax, INT15_E820
    mov edx, E820_SMAP
    mov ecx, E820_ENTRY_SIZE
    int 0x15
    jc .done                            ; error, or past the last entry
    cmp eax, E820_SMAP
    jne .done
    mov eax, [di + E820_LENGTH]
    or eax, [di + E820_LENGTH + 4]
    jz .skip                            ; length 0
    add di, E820_ENTRY_SIZE
    inc si
    cmp si, E820_MAX_ENTRIES
    jae .done
.skip:
    test ebx, ebx                       ; 0: that was the last entry
    jnz .next
.done:
    movzx esi, si
    mov [BOOTINFO_ADDRESS + BI_E820_COUNT], esi
    test si, si
    jnz .have_map
    FAIL "pxhv: error: boot: no E820 memory map"
.have_map:
    ; ram_top = max(base + length) over the RAM entries
    mov bx, BOOTINFO_ADDRESS + BI_E820_ENTRIES
    mov cx, si
.entry:
    cmp dword [bx + E820_TYPE], E820_TYPE_RAM
    jne .not_ram
    mov eax, [bx + E820_BASE]
    mov edx, [bx + E820_BASE + 4]
    add eax, [bx + E820_LENGTH]
    adc edx, [bx + E820_LENGTH + 4]
    cmp edx, [ram_top + 4]
    jb .not_ram
    ja .higher
    cmp eax, [ram_top]
    jbe .not_ram
.higher:
    mov [ram_top], eax
    mov [ram_top + 4], edx
.not_ram:
    add bx, E820_ENTRY_SIZE
    loop .entry
    PRINT "pxhv: boot: e820: %d entries, RAM ends at 0x%q", esi, [ram_top], [ram_top + 4]
    ret

; ram_end_from: EDX:EAX = a physical address. Returns in EDX:EAX the end of
; the run of RAM entries that starts at or covers it (adjacent or
; overlapping RAM entries are joined, in any order); unchanged if the
; address is not in RAM.
ram_end_from:
    push bx
    push cx
    push esi
    push edi
.rescan:
    mov bx, BOOTINFO_ADDRESS + BI_E820_ENTRIES
    mov cx, [BOOTINFO_ADDRESS + BI_E820_COUNT]
.entry:
    cmp dword [bx + E820_TYPE], E820_TYPE_RAM
    jne .next
    cmp edx, [bx + E820_BASE + 4]       ; skip if address < base
    jb .next
    ja .above_base
    cmp eax, [bx + E820_BASE]
    jb .next
.above_base:
    mov esi, [bx + E820_BASE]           ; EDI:ESI = base + length
    mov edi, [bx + E820_BASE + 4]
    add esi, [bx + E820_LENGTH]
    adc edi, [bx + E820_LENGTH + 4]
    cmp edx, edi                        ; skip unless address < end
    ja .next
    jb .extend
    cmp eax, esi
    jae .next
.extend:
    mov eax, esi
    mov edx, edi
    jmp .rescan
.next:
    add bx, E820_ENTRY_SIZE
    loop .entry
    pop edi
    pop esi
    pop cx
    pop bx
    ret

; ==============================================================================
; Payload
; ==============================================================================

; load_payload: check the manifest header, then copy the payload to
; PAYLOAD_BASE. Fills BI_PAYLOAD_BASE/SIZE and entry_point.
load_payload:
    mov eax, IMAGE_PAYLOAD_OFFSET
    mov ecx, CD_SECTOR_SIZE
    call read_image
    push BOUNCE_SEGMENT
    pop fs

    cmp dword [fs:MANIFEST_MAGIC], PAYLOAD_MAGIC_LO
    jne .bad_magic
    cmp dword [fs:MANIFEST_MAGIC + 4], PAYLOAD_MAGIC_HI
    je .magic_ok
.bad_magic:
    FAIL "pxhv: error: boot: bad payload magic (expected PXHVPAYL at image offset 0x8000)"
.magic_ok:
    movzx eax, word [fs:MANIFEST_VERSION]
    cmp ax, PAYLOAD_VERSION
    je .version_ok
    FAIL "pxhv: error: boot: payload version %d unsupported", eax
.version_ok:
    mov eax, [fs:MANIFEST_LOAD_ADDRESS]
    mov edx, [fs:MANIFEST_LOAD_ADDRESS + 4]
    cmp eax, PAYLOAD_BASE
    jne .bad_load_address
    test edx, edx
    jz .load_address_ok
.bad_load_address:
    FAIL "pxhv: error: boot: payload load address 0x%q is not 0x%x", eax, edx, PAYLOAD_BASE
.load_address_ok:
    mov eax, [fs:MANIFEST_TOTAL_SIZE]
    mov edx, [fs:MANIFEST_TOTAL_SIZE + 4]
    test edx, edx
    jnz .too_big
    cmp eax, MAX_LOADABLE_SIZE
    jbe .size_below_4g
.too_big:
    FAIL "pxhv: error: boot: payload (0x%q bytes) does not fit below 4 GiB", eax, edx
.size_below_4g:
    cmp eax, MANIFEST_MIN_SIZE
    jae .size_ok
    FAIL "pxhv: error: boot: payload size %d smaller than its header", eax
.size_ok:
    mov [payload_size], eax

    ; The entry point must lie inside the payload.
    mov eax, [fs:MANIFEST_ENTRY_POINT]
    mov edx, [fs:MANIFEST_ENTRY_POINT + 4]
    mov [entry_point], eax
    mov [entry_point + 4], edx
    test edx, edx
    jnz .bad_entry
    sub eax, PAYLOAD_BASE
    jb .bad_entry
    cmp eax, [payload_size]
    jb .entry_ok
.bad_entry:
    FAIL "pxhv: error: boot: payload entry point 0x%q outside the payload", [entry_point], [entry_point + 4]
.entry_ok:

    ; The payload must fit in the RAM that starts at PAYLOAD_BASE.
    mov eax, PAYLOAD_BASE
    xor edx, edx
    call ram_end_from
    sub eax, PAYLOAD_BASE
    sbb edx, 0
    jz .fits_32
    mov eax, 0xFFFFFFFF                 ; 4 GiB or more: plenty
.fits_32:
    cmp eax, [payload_size]
    jae .fits
    FAIL "pxhv: error: boot: payload (%d bytes) larger than memory (%d bytes of RAM at 0x%x)", [payload_size], eax, PAYLOAD_BASE
.fits:

    ; Chunk loop: INT 13h into the bounce buffer, then a flat 32-bit copy.
    xor ebp, ebp                        ; payload offset
.chunk:
    mov ecx, [payload_size]
    sub ecx, ebp
    cmp ecx, PAYLOAD_CHUNK_SIZE
    jbe .chunk_size_known
    mov ecx, PAYLOAD_CHUNK_SIZE
.chunk_size_known:
    lea eax, [ebp + IMAGE_PAYLOAD_OFFSET]
    call read_image
    ; SeaBIOS built with CONFIG_DISABLE_A20 turns A20 off whenever its
    ; 32-bit code returns to 16-bit mode (romlayout.S, transition16); with
    ; A20 off, the copy to [PAYLOAD_BASE + offset] would wrap at bit 20.
    call a20_is_on
    jnz .a20_ok
    PRINT "pxhv: boot: A20 was turned off during INT 13h, enabling it again"
    call enable_a20
.a20_ok:
    mov esi, BOUNCE_BUFFER
    lea edi, [ebp + PAYLOAD_BASE]
    mov bx, copy32
    call pm_call
    add ebp, ecx
    cmp ebp, [payload_size]
    jb .chunk

    mov bx, BOOTINFO_ADDRESS
    mov dword [bx + BI_PAYLOAD_BASE], PAYLOAD_BASE
    mov [bx + BI_PAYLOAD_SIZE], ebp
    PRINT "pxhv: boot: payload %d bytes at 0x%x, entry 0x%x", ebp, PAYLOAD_BASE, [entry_point]
    ret

; read_image: read ECX bytes (1..64 KiB) of the image starting at image byte
; offset EAX (a multiple of CD_SECTOR_SIZE) into the bounce buffer, in one
; INT 13h AH=42h call: LBA = base + EAX / bps, count = ceil(ECX / bps).
; Up to INT13_RETRIES tries, with a disk reset between them.
read_image:
    pushad
    movzx ebx, word [HANDOFF_ADDRESS + HO_BYTES_PER_SECTOR]
    xor edx, edx
    div ebx
    add eax, [HANDOFF_ADDRESS + HO_BASE_LBA]
    mov [dap + DAP_LBA], eax
    lea eax, [ecx + ebx - 1]
    xor edx, edx
    div ebx
    mov di, ax                          ; sector count
    rdtsc                               ; disk time starts (BI_TSC_DISK)
    mov [tsc_read_start], eax
    mov [tsc_read_start + 4], edx
    mov cx, INT13_RETRIES
.try:
    mov [dap + DAP_COUNT], di           ; a failed call may have lowered it
    push cx
    mov si, dap
    mov ah, INT13_EXTENDED_READ
    mov dl, [HANDOFF_ADDRESS + HO_DRIVE]
    int 0x13
    jnc .done
    movzx ebx, ah                       ; BIOS status
    mov ah, INT13_RESET
    mov dl, [HANDOFF_ADDRESS + HO_DRIVE]
    int 0x13
    pop cx
    loop .try
    FAIL "pxhv: error: boot: disk read failed (INT 13h status 0x%b, LBA %d)", ebx, [dap + DAP_LBA]
.done:
    pop cx
    rdtsc                               ; BI_TSC_DISK += now - start
    sub eax, [tsc_read_start]
    sbb edx, [tsc_read_start + 4]
    add [BOOTINFO_ADDRESS + BI_TSC_DISK], eax
    adc [BOOTINFO_ADDRESS + BI_TSC_DISK + 4], edx
    popad
    ret

; ==============================================================================
; Protected-mode round trip
; ==============================================================================
;
; Why not unreal mode: unreal mode relies on nobody reloading a segment
; cache with a 64 KiB limit, but BIOS disk code may switch modes itself:
; SeaBIOS runs its 32-bit code through call32, whose way back
; (src/romlayout.S, transition16) "restore[s] data segment limits to
; 0xffff" in DS, ES, SS, FS and GS. So 4 GiB limits could vanish during any
; INT 13h call. A protected-mode round trip per chunk costs two mode
; switches per ~62 KiB copied and depends on nothing the BIOS does.

; pm_call: call the 32-bit routine at BX in flat protected mode with
; interrupts off, then return to real mode. EAX is clobbered; EBX, ECX,
; EDX, ESI, EDI, EBP pass to the routine and back; IF is restored.
pm_call:
    pushfd
    cli
    o32 lgdt [gdt_descriptor]
    mov eax, cr0
    or al, CR0_PE
    mov cr0, eax
    jmp SEL_CODE32:.protected           ; far jump: loads CS, flushes prefetch
bits 32
.protected:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    movzx eax, bx
    call eax
    ; Intel SDM Vol. 3A, "Switching Back to Real-Address Mode": go through a
    ; 16-bit code segment and 64 KiB data segments, clear PE, far jump.
    jmp SEL_CODE16:.protected16
bits 16
.protected16:
    mov ax, SEL_DATA16
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and al, ~CR0_PE & 0xFF
    mov cr0, eax
    jmp 0:.real
.real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    popfd
    ret

bits 32
; copy32: copy ECX bytes from ESI to EDI (flat addresses).
copy32:
    push ecx
    push esi
    push edi
    push ecx
    shr ecx, 2
    rep movsd
    pop ecx
    and ecx, 3
    rep movsb
    pop edi
    pop esi
    pop ecx
    ret
bits 16

; ==============================================================================
; Identity page tables
; ==============================================================================

; build_page_tables: map [0, max(4 GiB, ram_top)) rounded up to 1 GiB,
; 1:1, with 1 GiB pages if the CPU has them, else 2 MiB pages, inside
; [PAGE_TABLES_ADDRESS, +PAGE_TABLES_MAX_SIZE). Layout (4-level paging,
; Intel SDM Vol. 3A, "4-Level Paging"):
;   1 GiB pages: PML4, then ceil(G / 512) PDPTs holding G 1 GiB leaves;
;   2 MiB pages: PML4, one PDPT, then G page directories (one per GiB).
; If the tables would not fit, the map is capped and BOOTINFO_FLAG_MAP_CAPPED
; set.
build_page_tables:
    ; G = ceil(ram_top / 1 GiB), at least 4
    mov eax, [ram_top]
    mov edx, [ram_top + 4]
    add eax, GIB - 1
    adc edx, 0
    shrd eax, edx, PAGE_1G_SHIFT
    shr edx, PAGE_1G_SHIFT
    jz .gib_known
    mov eax, 0xFFFFFFFF                 ; absurd; the cap below applies
.gib_known:
    cmp eax, MIN_MAP_GIB
    jae .not_small
    mov eax, MIN_MAP_GIB
.not_small:
    ; cap to what PAGE_TABLES_MAX_SIZE holds
    mov ecx, (PAGE_TABLES_MAX_SIZE / PAGE_SIZE - 1) * PAGE_TABLE_ENTRIES
    test byte [cpu_flags], BOOTINFO_FLAG_1G_PAGES
    jnz .cap
    mov ecx, PAGE_TABLES_MAX_SIZE / PAGE_SIZE - 2
.cap:
    cmp eax, ecx
    jbe .size_known
    mov eax, ecx
    or byte [cpu_flags], BOOTINFO_FLAG_MAP_CAPPED
.size_known:
    mov [map_gib], eax

    mov ecx, eax
    mov bx, build_tables32
    call pm_call                        ; returns the bytes used in EDX

    mov bx, BOOTINFO_ADDRESS
    mov al, [cpu_flags]
    or [bx + BI_FLAGS], al
    mov dword [bx + BI_PAGE_TABLES_BASE], PAGE_TABLES_ADDRESS
    mov [bx + BI_PAGE_TABLES_SIZE], edx
    mov eax, [map_gib]                  ; top = G << 30 as a u64
    mov ecx, eax
    shl eax, PAGE_1G_SHIFT
    shr ecx, 32 - PAGE_1G_SHIFT
    mov [bx + BI_IDENTITY_MAPPED_TOP], eax
    mov [bx + BI_IDENTITY_MAPPED_TOP + 4], ecx
    shr edx, KIB_SHIFT
    mov esi, gib_1g
    test byte [cpu_flags], BOOTINFO_FLAG_1G_PAGES
    jnz .print
    mov esi, mib_2m
.print:
    PRINT "pxhv: boot: identity map 0-%d GiB, %s pages, %d KiB of tables at 0x%x", [map_gib], esi, edx, PAGE_TABLES_ADDRESS
    test byte [cpu_flags], BOOTINFO_FLAG_MAP_CAPPED
    jz .done
    PRINT "pxhv: boot: warning: RAM above %d GiB is not identity mapped (page table space)", [map_gib]
.done:
    ret

gib_1g: db "1 GiB", 0
mib_2m: db "2 MiB", 0

bits 32
; build_tables32: ECX = GiB to map; uses cpu_flags. Returns EDX = bytes of
; page tables used. Entries: present + writable (+ PS for leaves); caching
; is left to the MTRRs (PAT entry 0 = WB).
build_tables32:
    push ecx
    mov edi, PAGE_TABLES_ADDRESS
    mov ecx, PAGE_TABLES_MAX_SIZE / 4
    xor eax, eax
    rep stosd
    pop ecx

    test byte [cpu_flags], BOOTINFO_FLAG_1G_PAGES
    jz .pages_2m

    ; 1 GiB pages: leaves are the entries of the PDPTs that follow the PML4.
    push ecx
    mov edi, PAGE_TABLES_ADDRESS + PAGE_SIZE
    xor eax, eax
    mov ebx, GIB
    call fill_entries_large
    pop ecx
    add ecx, PAGE_TABLE_ENTRIES - 1
    shr ecx, PAGE_TABLE_ENTRIES_SHIFT   ; PDPTs = ceil(G / 512)
    lea edx, [ecx + 1]                  ; + PML4
    mov edi, PAGE_TABLES_ADDRESS
    mov eax, PAGE_TABLES_ADDRESS + PAGE_SIZE
    call fill_entries_tables
    jmp .done

.pages_2m:
    ; 2 MiB pages: leaves are the entries of the PDs after PML4 and PDPT.
    push ecx
    shl ecx, PAGE_TABLE_ENTRIES_SHIFT   ; 512 PDEs per GiB
    mov edi, PAGE_TABLES_ADDRESS + 2 * PAGE_SIZE
    xor eax, eax
    mov ebx, 1 << PAGE_2M_SHIFT
    call fill_entries_large
    pop ecx
    lea edx, [ecx + 2]                  ; + PML4 + PDPT
    mov edi, PAGE_TABLES_ADDRESS + PAGE_SIZE
    mov eax, PAGE_TABLES_ADDRESS + 2 * PAGE_SIZE
    call fill_entries_tables            ; PDPT -> PDs
    mov edi, PAGE_TABLES_ADDRESS
    mov eax, PAGE_TABLES_ADDRESS + PAGE_SIZE
    mov ecx, 1
    call fill_entries_tables            ; PML4 -> PDPT
.done:
    shl edx, PAGE_SHIFT                 ; pages -> bytes
    ret

; fill_entries_large: ECX leaf entries at EDI mapping EAX (low dword of the
; first physical address; the high dword starts at 0), EAX += EBX each.
fill_entries_large:
    push edx
    xor edx, edx
.next:
    mov [edi], eax
    or dword [edi], PTE_PRESENT | PTE_WRITABLE | PTE_LARGE
    mov [edi + 4], edx
    add edi, PTE_SIZE
    add eax, ebx
    adc edx, 0
    loop .next
    pop edx
    ret

; fill_entries_tables: ECX entries at EDI pointing to consecutive 4 KiB
; tables starting at EAX (below 4 GiB).
fill_entries_tables:
.next:
    mov [edi], eax
    or dword [edi], PTE_PRESENT | PTE_WRITABLE
    add edi, PTE_SIZE
    add eax, PAGE_SIZE
    loop .next
    ret
bits 16

; ==============================================================================
; Long mode
; ==============================================================================

; enter_long_mode: real mode -> 32-bit protected mode -> IA-32e mode, then
; jump to the payload. Does not return.
enter_long_mode:
    cli
    o32 lgdt [gdt_descriptor]
    mov eax, cr0
    or al, CR0_PE
    mov cr0, eax
    jmp SEL_CODE32:.protected
bits 32
.protected:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    ; Intel SDM Vol. 3A, "Initializing IA-32e Mode", with paging off:
    ; CR4.PAE = 1, CR3 = PML4, IA32_EFER.LME = 1, then CR0.PG = 1 (the CPU
    ; sets EFER.LMA), then a far jump to a 64-bit code segment.
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, PAGE_TABLES_ADDRESS
    mov cr3, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_WP             ; WP: honour read-only pages in ring 0
    mov cr0, eax
    jmp SEL_CODE64:long_mode_entry

bits 64
long_mode_entry:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov rsp, STACK_TOP
    call verify_hypervisor
    mov rsi, msg_long_mode
    call puts64
    mov rax, [entry_point]
    call print_hex64
    mov al, 10
    call putc64

    ; Leave the VGA cursor where the hypervisor can find it: the BDA.
    mov al, [cursor_column]
    mov [BDA_CURSOR_COLUMN], al
    mov al, [cursor_row]
    mov [BDA_CURSOR_ROW], al

    ; System V AMD64: first argument in RDI; at entry RSP + 8 is 16-byte
    ; aligned as after a CALL. The "return address" catches a payload
    ; that returns.
    mov rax, [tsc_serial]               ; this stage's console time
    mov [BOOTINFO_ADDRESS + BI_TSC_SERIAL], rax
    rdtsc                               ; the timeline's handoff mark
    shl rdx, 32
    or rax, rdx
    mov [BOOTINFO_ADDRESS + BI_TSC_HANDOFF], rax
    mov rdi, BOOTINFO_ADDRESS
    mov rax, [entry_point]
    mov rcx, payload_returned
    push rcx
    cld
    jmp rax

payload_returned:
    mov rsi, msg_payload_returned
    call puts64
.halt:
    cli
    hlt
    jmp .halt

; verify_hypervisor: entry 0 must be the hypervisor, inside the payload,
; with a matching CRC-32. It can only be checked here, before it runs: once
; running, its .data changes. (The hypervisor checks the manifest header
; and every other entry itself.) Table-driven, four bytes per step
; ("slicing by 4", crc32_tables): about 3.5 instructions per byte, where
; the bitwise loop this replaced took about 44 (16.7 million TSC ticks for
; a 375 KiB hypervisor under Bochs, most of stage 2's time).
verify_hypervisor:
    mov rbx, PAYLOAD_BASE + MANIFEST_ENTRIES
    cmp dword [rbx + MANIFEST_ENTRY_KIND], PAYLOAD_KIND_HYPERVISOR
    jne .not_hypervisor
    mov rsi, [rbx + MANIFEST_ENTRY_OFFSET]
    mov rcx, [rbx + MANIFEST_ENTRY_SIZE]
    mov rax, rsi
    add rax, rcx
    jc .outside
    mov edx, [payload_size]
    cmp rax, rdx
    ja .outside
    add rsi, PAYLOAD_BASE
    call crc32_tables
    mov eax, 0xFFFFFFFF
.next_dword:
    cmp rcx, 4
    jb .next_byte
    ; Reflected CRC, four bytes b0..b3 (low first) at once:
    ; crc = T3[b0 ^ crc0] ^ T2[b1 ^ crc1] ^ T1[b2 ^ crc2] ^ T0[b3 ^ crc3].
    xor eax, [rsi]
    movzx edx, al
    mov r8d, [CRC_TABLE_3 + rdx * 4]
    movzx edx, ah
    xor r8d, [CRC_TABLE_2 + rdx * 4]
    shr eax, 16
    movzx edx, al
    xor r8d, [CRC_TABLE_1 + rdx * 4]
    movzx edx, ah
    xor r8d, [CRC_TABLE_0 + rdx * 4]
    mov eax, r8d
    add rsi, 4
    sub rcx, 4
    jmp .next_dword
.next_byte:                             ; the last 0-3 bytes, one at a time
    test rcx, rcx
    jz .compare
    movzx edx, byte [rsi]
    xor dl, al
    shr eax, 8
    xor eax, [CRC_TABLE_0 + rdx * 4]
    inc rsi
    dec rcx
    jmp .next_byte
.compare:
    not eax
    cmp eax, [rbx + MANIFEST_ENTRY_CHECKSUM]
    jne .mismatch
    mov rsi, msg_hypervisor_ok
    jmp puts64
.not_hypervisor:
    mov rsi, msg_not_hypervisor
    jmp fail64
.outside:
    mov rsi, msg_hypervisor_outside
    jmp fail64
.mismatch:
    mov rsi, msg_hypervisor_crc
    jmp fail64

; crc32_tables: the four 256-entry tables of slicing-by-4 for the reflected
; CRC-32 (polynomial CRC32_POLYNOMIAL) at CRC_TABLE_0..3: T0[i] is the CRC
; step of byte i (eight shifts), Tk[i] = (Tk-1[i] >> 8) ^ T0[Tk-1[i] & 0xFF]
; is the same byte followed by k zero bytes (so T0 is complete first).
; About 13,000 instructions. Keeps RBX, RCX, RSI.
crc32_tables:
    xor edi, edi                        ; i
.entry:
    mov eax, edi
    mov edx, 8
.bit:
    shr eax, 1                          ; CF = the bit shifted out
    jnc .no_xor
    xor eax, CRC32_POLYNOMIAL
.no_xor:
    dec edx
    jnz .bit
    mov [CRC_TABLE_0 + rdi * 4], eax
    inc edi
    cmp edi, 256
    jb .entry
    xor edi, edi
.derived:
    mov eax, [CRC_TABLE_0 + rdi * 4]
%assign k 1
%rep 3
    movzx edx, al
    shr eax, 8
    xor eax, [CRC_TABLE_0 + rdx * 4]
    mov [CRC_TABLE_0 + k * 1024 + rdi * 4], eax
%assign k k + 1
%endrep
    inc edi
    cmp edi, 256
    jb .derived
    ret

; fail64: print the line at RSI, then "pxhv: halted", and stop.
fail64:
    call puts64
    mov rsi, msg_halted
    call puts64
.halt:
    cli
    hlt
    jmp .halt

msg_hypervisor_ok:      db "pxhv: boot: hypervisor checksum ok", 10, 0
msg_not_hypervisor:     db "pxhv: error: boot: payload entry 0 is not the hypervisor", 10, 0
msg_hypervisor_outside: db "pxhv: error: boot: hypervisor entry lies outside the payload", 10, 0
msg_hypervisor_crc:     db "pxhv: error: boot: hypervisor checksum mismatch (payload corrupt; rebuild or rewrite the image)", 10, 0
msg_halted:             db "pxhv: halted", 10, 0
msg_long_mode:        db "pxhv: boot: long mode, jumping to 0x", 0
msg_payload_returned: db "pxhv: error: boot: payload entry returned", 10, 0

; puts64: print the NUL-terminated string at RSI.
puts64:
    push rsi
.next:
    lodsb
    test al, al
    jz .done
    call putc64
    jmp .next
.done:
    pop rsi
    ret

; print_hex64: RAX in hex, without leading zeros.
print_hex64:
    push rax
    push rcx
    push rdx
    mov rdx, rax
    mov ecx, 16
.skip_zeros:
    cmp ecx, 1
    je .digit
    mov rax, rdx
    shr rax, 60
    jnz .digit
    shl rdx, 4
    dec ecx
    jmp .skip_zeros
.digit:
    rol rdx, 4
    mov al, dl
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .emit
    add al, 'A' - '9' - 1
.emit:
    call putc64
    dec ecx
    jnz .digit
    pop rdx
    pop rcx
    pop rax
    ret

; putc64: AL to COM1 and VGA (same cursor as the 16-bit console).
putc64:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    cmp al, 10
    jne .serial
    mov al, 13
    call serial_putc64
    mov al, 10
.serial:
    call serial_putc64
    cmp al, 10
    je .newline
    movzx edi, byte [cursor_row]
    imul edi, edi, VGA_COLUMNS
    movzx ecx, byte [cursor_column]
    add edi, ecx
    mov ah, VGA_ATTRIBUTE
    mov [VGA_TEXT_ADDRESS + rdi * 2], ax
    inc byte [cursor_column]
    cmp byte [cursor_column], VGA_COLUMNS
    jb .done
.newline:
    mov byte [cursor_column], 0
    inc byte [cursor_row]
    cmp byte [cursor_row], VGA_ROWS
    jb .done
    mov byte [cursor_row], VGA_ROWS - 1
    mov rdi, VGA_TEXT_ADDRESS
    mov rsi, VGA_TEXT_ADDRESS + VGA_ROW_BYTES
    mov ecx, (VGA_ROWS - 1) * VGA_COLUMNS
    rep movsw
    mov ax, VGA_ATTRIBUTE << 8 | ' '
    mov ecx, VGA_COLUMNS
    rep stosw
.done:
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    ret

; serial_putc64: AL to COM1 once the transmitter is ready; the time into
; tsc_serial as in serial_putc.
serial_putc64:
    push rax
    push rcx
    push rdx
    push rsi
    mov cl, al
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rsi, rax
    mov dx, COM1_BASE + UART_LSR
.wait:
    in al, dx
    test al, UART_LSR_THRE
    jz .wait
    mov al, cl
    mov dx, COM1_BASE + UART_DATA
    out dx, al
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, rsi
    add [tsc_serial], rax
    pop rsi
    pop rdx
    pop rcx
    pop rax
    ret
bits 16

; ==============================================================================
; Console (real mode): COM1 + VGA text
; ==============================================================================

; console_init: COM1 to 115200 8N1 with FIFOs; our VGA lines continue below
; the BIOS's text. Our cursor lives in cursor_row/cursor_column, not in the
; BIOS data area: whenever SeaBIOS's serial console flushes (from BIOS calls
; and interrupts), it compares the BDA cursor with the position it last
; sent and writes cursor-move escapes to COM1 if they differ
; (sercon_lazy_cursor_sync). long_mode_entry copies our cursor to the BDA
; once interrupts are off for good.
console_init:
    mov si, uart_setup
.uart:
    lodsw                               ; al = register, ah = value
    movzx dx, al
    add dx, COM1_BASE
    mov al, ah
    out dx, al
    cmp si, uart_setup_end
    jb .uart
    ; SeaBIOS's serial console (QEMU -nographic, src/sercon.c) holds back
    ; its last character and cursor moves (the final '.' and newline of
    ; "Booting from DVD/CD...") and flushes them at some later BIOS call or
    ; interrupt, which would put them inside or between our lines. Make it
    ; flush now, then start a fresh line on COM1 (printf also runs with
    ; interrupts off, so nothing can land inside a line).
    call flush_bios_console
    mov al, 10
    call serial_putc
    mov al, [BDA_CURSOR_ROW]
    cmp al, VGA_ROWS
    jb .row_ok
    mov al, VGA_ROWS - 1
.row_ok:
    mov [cursor_row], al
    cmp byte [BDA_CURSOR_COLUMN], 0
    je .done
    mov al, 10                          ; end the BIOS's open VGA line
    call vga_putc
.done:
    ret

; flush_bios_console: INT 10h AH=06h (scroll window up) with AL=0 (blank)
; on the bottom-right cell only: for a VGA BIOS it blanks one cell that is
; blank anyway; SeaBIOS's serial console handles AH=06h by first flushing
; its held-back output (sercon_1006 -> sercon_lazy_flush) and does not
; clear anything for a window smaller than the screen.
flush_bios_console:
    pushad
    mov ax, INT10_SCROLL_UP << 8        ; AL = 0: blank the window
    mov bh, VGA_ATTRIBUTE
    mov cx, ((VGA_ROWS - 1) << 8) | (VGA_COLUMNS - 1)
    mov dx, cx                          ; window = the bottom-right cell
    int 0x10
    popad
    ret

uart_setup:
    db UART_IER, 0                      ; no interrupts
    db UART_LCR, UART_LCR_DLAB
    db UART_DATA, UART_DIVISOR_115200 & 0xFF
    db UART_IER, UART_DIVISOR_115200 >> 8
    db UART_LCR, UART_LCR_8N1
    db UART_FCR, UART_FCR_ENABLE_CLEAR
    db UART_MCR, UART_MCR_DTR_RTS
uart_setup_end:

; printf: SI = format (see PRINT), arguments = dwords on the stack above the
; return address. Runs with interrupts off so that no BIOS interrupt handler
; (SeaBIOS's serial console) writes to COM1 in the middle of the line.
printf:
    pushf
    cli
    pushad
    mov bp, sp
    lea bx, [bp + 32 + 2 + 2]           ; past PUSHAD, FLAGS, return address
.next:
    lodsb
    test al, al
    jz .done
    cmp al, '%'
    jne .literal
    lodsb
    mov edx, [bx]
    add bx, 4
    cmp al, 'd'
    je .decimal
    cmp al, 'x'
    je .hex
    cmp al, 'b'
    je .byte
    cmp al, 's'
    je .string
    cmp al, 'q'
    je .quad
    sub bx, 4                           ; unknown: print it as it is
.literal:
    call putc
    jmp .next
.decimal:
    mov eax, edx
    call print_decimal
    jmp .next
.hex:
    mov eax, edx
    mov cl, 1
    call print_hex
    jmp .next
.byte:
    mov eax, edx
    mov cl, 2
    call print_hex
    jmp .next
.string:
    push si
    mov si, dx
    call puts
    pop si
    jmp .next
.quad:
    mov eax, [bx]                       ; high dword
    add bx, 4
    mov cl, 1
    test eax, eax
    jz .quad_low
    call print_hex
    mov cl, 8
.quad_low:
    mov eax, edx
    call print_hex
    jmp .next
.done:
    popad
    popf
    ret

; puts: print the NUL-terminated string at SI.
puts:
    push ax
    push si
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop si
    pop ax
    ret

; print_hex: EAX in hex with at least CL digits (no leading zeros beyond).
print_hex:
    pushad
    mov edx, eax
    mov ch, 8                           ; digits left
    xor bh, bh                          ; 1 once a digit was printed
.digit:
    rol edx, 4
    mov al, dl
    and al, 0x0F
    jnz .emit
    test bh, bh
    jnz .emit
    cmp ch, cl
    ja .skip                            ; a leading zero we may drop
.emit:
    mov bh, 1
    cmp al, 10                          ; 0..15 -> '0'..'9', 'A'..'F'
    sbb al, 0x69
    das
    call putc
.skip:
    dec ch
    jnz .digit
    popad
    ret

; print_decimal: EAX in decimal.
print_decimal:
    pushad
    mov ebx, 10
    xor cx, cx
.divide:
    xor edx, edx
    div ebx
    push dx
    inc cx
    test eax, eax
    jnz .divide
.emit:
    pop ax
    add al, '0'
    call putc
    loop .emit
    popad
    ret

; putc: AL to COM1 and to the VGA text buffer (10 = newline).
putc:
    call serial_putc
    jmp vga_putc

; serial_putc: AL to COM1 once the transmitter is ready; newline as CR LF.
; The time it takes (mostly waiting for the UART) goes to tsc_serial, the
; timeline's BI_TSC_SERIAL.
serial_putc:
    pushad
    mov bl, al
    rdtsc
    mov esi, eax
    mov edi, edx
    mov al, bl
    cmp al, 10
    jne .last
    mov al, 13
    call .send
    mov al, 10
.last:
    call .send
    rdtsc
    sub eax, esi
    sbb edx, edi
    add [tsc_serial], eax
    adc [tsc_serial + 4], edx
    popad
    ret
.send:
    mov ah, al
    mov dx, COM1_BASE + UART_LSR
.wait:
    in al, dx
    test al, UART_LSR_THRE
    jz .wait
    mov al, ah
    mov dx, COM1_BASE + UART_DATA
    out dx, al
    ret

; vga_putc: AL into the VGA text buffer at the cursor (10 = newline),
; scrolling up one row at the bottom. Real mode, DS = 0.
vga_putc:
    pushad
    push es
    push VGA_TEXT_SEGMENT
    pop es
    cmp al, 10
    je .newline
    movzx di, byte [cursor_row]
    imul di, di, VGA_COLUMNS
    movzx cx, byte [cursor_column]
    add di, cx
    shl di, 1
    mov ah, VGA_ATTRIBUTE
    mov [es:di], ax
    inc byte [cursor_column]
    cmp byte [cursor_column], VGA_COLUMNS
    jb .done
.newline:
    mov byte [cursor_column], 0
    inc byte [cursor_row]
    cmp byte [cursor_row], VGA_ROWS
    jb .done
    mov byte [cursor_row], VGA_ROWS - 1
    push ds
    push es
    pop ds
    xor di, di
    mov si, VGA_ROW_BYTES
    mov cx, (VGA_ROWS - 1) * VGA_COLUMNS
    rep movsw
    mov ax, VGA_ATTRIBUTE << 8 | ' '
    mov cx, VGA_COLUMNS
    rep stosw
    pop ds
.done:
    pop es
    popad
    ret

; ==============================================================================
; Data
; ==============================================================================

; Segment descriptor (Intel SDM Vol. 3A, "Segment Descriptors"):
; SEGMENT_DESCRIPTOR base, limit (20 bits), access byte, flags (G D/B L AVL).
%macro SEGMENT_DESCRIPTOR 4
    dw (%2) & 0xFFFF
    dw (%1) & 0xFFFF
    db ((%1) >> 16) & 0xFF
    db %3
    db (((%2) >> 16) & 0x0F) | ((%4) << 4)
    db ((%1) >> 24) & 0xFF
%endmacro
ACCESS_CODE             equ 0x9A        ; present, DPL 0, code, execute/read
ACCESS_DATA             equ 0x92        ; present, DPL 0, data, read/write
FLAGS_4K_32             equ 0xC         ; G (4 KiB granularity) + D/B (32-bit)
FLAGS_4K_64             equ 0xA         ; G + L (64-bit code)
FLAGS_BYTE_16           equ 0x0         ; byte granular, 16-bit

align 8
gdt:
    dq 0                                                        ; null
.code64: SEGMENT_DESCRIPTOR 0, 0xFFFFF, ACCESS_CODE, FLAGS_4K_64
.data:   SEGMENT_DESCRIPTOR 0, 0xFFFFF, ACCESS_DATA, FLAGS_4K_32
.code32: SEGMENT_DESCRIPTOR 0, 0xFFFFF, ACCESS_CODE, FLAGS_4K_32
.code16: SEGMENT_DESCRIPTOR 0, 0xFFFF, ACCESS_CODE, FLAGS_BYTE_16
.data16: SEGMENT_DESCRIPTOR 0, 0xFFFF, ACCESS_DATA, FLAGS_BYTE_16
gdt_end:
STATIC_ASSERT gdt.code64 - gdt == SEL_CODE64
STATIC_ASSERT gdt.data - gdt == SEL_DATA
STATIC_ASSERT gdt.code32 - gdt == SEL_CODE32
STATIC_ASSERT gdt.code16 - gdt == SEL_CODE16
STATIC_ASSERT gdt.data16 - gdt == SEL_DATA16

gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

; INT 13h AH=42h disk address packet (EDD 3.0): into the bounce buffer.
dap:
    db DAP_SIZE, 0
    dw 0                                ; count
    dw BOUNCE_BUFFER & 0xF              ; offset
    dw BOUNCE_SEGMENT                   ; segment
    dq 0                                ; LBA

align 8
ram_top:      dq 0                      ; end of the highest E820 RAM entry
entry_point:  dq 0                      ; from the manifest
payload_size: dd 0
map_gib:      dd 0                      ; identity-mapped GiB
cpu_flags:    db 0                      ; BOOTINFO_FLAG_1G_PAGES, _MAP_CAPPED
cursor_row:   db 0                      ; VGA console position
cursor_column: db 0
align 8
tsc_stage1:      dq 0                   ; boot timeline marks (BI_TSC_*)
tsc_serial:      dq 0
tsc_stage1_read: dq 0
tsc_stage2:      dq 0
tsc_read_start:  dq 0

stage2_end:
; Pad to the full stage-2 area and end with the signature stage 1 checks.
; Fails the build ("TIMES value is negative") if stage 2 outgrows the area.
    times STAGE2_SIGNATURE_OFFSET - ($ - $$) db 0
    dd STAGE2_SIGNATURE
STATIC_ASSERT $ - $$ == STAGE2_MAX_SIZE
