; pxHV stage 1: the first 512 bytes of the image.
;
; The same bytes boot two ways:
;   - as the MBR of the raw disk image: the BIOS loads image bytes [0, 512)
;     to 0x7C00; the drive has 512-byte sectors and the image starts at LBA 0;
;   - as an El Torito no-emulation boot image (-boot-load-size 4): the BIOS
;     loads image bytes [0, 2048) to 0x7C00; the drive has 2048-byte sectors
;     and mkisofs' -boot-info-table wrote the image's own LBA into bytes 8..63.
;
; Job: find the drive's sector size and the image's base LBA, read the rest
; of stage 2 (image bytes [IMAGE_STAGE2_OFFSET, IMAGE_PAYLOAD_OFFSET)) with
; INT 13h AH=42h, leave the handoff block at HANDOFF_ADDRESS (layout.inc)
; and jump to stage 2. On failure: one `pxhv: error:` line on COM1 and VGA,
; then halt.
;
; Build: nasm -f bin -I Boot/ Boot/stage1.asm -o stage1.bin

%include "layout.inc"
%include "pc.inc"

; STATIC_ASSERT condition: the build fails ("TIMES value -1 is negative")
; when the condition is false.
%macro STATIC_ASSERT 1
    times -!(%1) db 0
%endmacro

bits 16
org STAGE1_ADDRESS

; Bytes 0..2: a short jump over the boot-info table. Bytes 3..63 stay zero:
; 8..63 is the El Torito boot-info table (BOOT_INFO_*), and the whole range
; 3..61 is where BIOSes that treat a USB stick as a floppy patch a FAT BPB.
entry:
    jmp short stage1_main
    nop
    times BOOT_INFO_TABLE_END - ($ - $$) db 0

stage1_main:
    ; The boot timeline's first mark (BootInfo BI_TSC_STAGE1): the TSC as
    ; the BIOS hands over, pushed once the stack is ours. RDTSC takes EDX,
    ; so the drive number (DL) waits in DI meanwhile.
    mov di, dx
    rdtsc
    ; Zero segments: every address below is linear (ORG 0x7C00). Some BIOSes
    ; enter at 07C0:0000 instead of 0000:7C00; that is harmless here because
    ; all jumps and calls are IP-relative and the only absolute jump (to
    ; stage 2) is a far jump. MOV SS blocks interrupts until after the next
    ; instruction (Intel SDM Vol. 2B, MOV), so SS:SP change together.
    xor cx, cx
    mov ds, cx
    mov es, cx
    mov ss, cx
    mov sp, STAGE1_ADDRESS          ; the stack grows down from below us
    cld
    mov bp, HANDOFF_ADDRESS         ; [bp + HO_*] below (SS = 0)
    push edx                        ; STAGE1_TSC_START (layout.inc)
    push eax
    mov dx, di

    ; Which medium? mkisofs writes the primary volume descriptor's LBA (16)
    ; into the boot-info table; in the raw disk image the table is zero.
    ; The medium also gives the fallback sector size if AH=48h fails.
    xor bx, bx
    mov dh, bl                      ; DH = flags, DL = drive (from the BIOS)
    mov cx, DISK_SECTOR_SIZE
    cmp [STAGE1_ADDRESS + BOOT_INFO_PVD_LBA], ebx
    je .medium_known
    mov dh, BOOTINFO_FLAG_ELTORITO
    mov ch, CD_SECTOR_SIZE >> 8
.medium_known:
    STATIC_ASSERT HO_FLAGS == HO_DRIVE + 1
    mov [bp + HO_DRIVE], dx
    mov [bp + HO_BYTES_PER_SECTOR], cx

    ; EDD 3.0, INT 13h AH=41h: extensions present iff CF=0 and BX=AA55h;
    ; CX bit 0 says the "fixed disk access" subset (AH=42h..44h, 47h, 48h)
    ; is implemented, which is what we use.
    mov ah, INT13_CHECK_EXTENSIONS
    mov bx, EDD_PROBE_IN
    int 0x13
    mov si, msg_no_extensions
    jc .fatal
    cmp bx, EDD_PROBE_OUT
    jne .fatal
    test cl, EDD_API_FIXED_DISK
    jnz .get_sector_size
.fatal:
    jmp fatal

.get_sector_size:
    ; EDD 3.0, INT 13h AH=48h: bytes per sector at offset 18h of the result.
    ; Only 512..2048 is accepted (in practice 512 or 2048): such sizes
    ; divide CD_SECTOR_SIZE, the granule of every read the stages make, so
    ; LBA = base + offset / size is exact for both media. Anything else
    ; keeps the fallback.
    mov si, DRIVE_PARAMETERS
    mov word [si], EDD_PARAMS_SIZE
    mov ah, INT13_GET_PARAMETERS
    mov dl, [bp + HO_DRIVE]
    int 0x13
    jc .sector_size_known
    mov ax, [si + EDD_PARAMS_BYTES_PER_SECTOR]
    cmp ax, DISK_SECTOR_SIZE
    jb .sector_size_known
    cmp ax, CD_SECTOR_SIZE
    ja .sector_size_known
    mov [bp + HO_BYTES_PER_SECTOR], ax
.sector_size_known:

    ; Scale from 2048-byte units to the drive's sectors (x 2048 / bps):
    ;   base LBA: the boot-info table counts CD sectors; zero on the disk;
    ;   DI: sectors up to the payload, IMAGE_PAYLOAD_OFFSET / bps.
    mov eax, [STAGE1_ADDRESS + BOOT_INFO_FILE_LBA]
    mov di, IMAGE_PAYLOAD_OFFSET / CD_SECTOR_SIZE
    mov bx, [bp + HO_BYTES_PER_SECTOR]
.scale:
    cmp bx, CD_SECTOR_SIZE
    jae .scaled
    shl eax, 1
    shl di, 1
    shl bx, 1
    jmp .scale
.scaled:
    mov [bp + HO_BASE_LBA], eax

    ; The BIOS loaded exactly one sector (512 bytes from disk, 2048 from CD
    ; with -boot-load-size 4), so read image sectors [1, IMAGE_PAYLOAD_OFFSET
    ; / bps) into 0x7C00 + bps: at most 63 sectors (of 512 bytes), within
    ; the EDD limit of 127 per call, ending at 0xFC00 inside segment 0.
    inc eax
    mov [dap + DAP_LBA], eax
    mov ax, [bp + HO_BYTES_PER_SECTOR]
    add ax, STAGE1_ADDRESS
    mov [dap + DAP_BUFFER_OFFSET], ax
    dec di
    ; The TSC before the read (STAGE1_TSC_READ): stage 2 counts [this, its
    ; own first instruction) as disk time (BI_TSC_DISK), a few instructions
    ; too many.
    rdtsc
    push edx
    push eax
    ; Up to INT13_RETRIES tries with a reset in between, as is customary
    ; for removable media (a first access may report "media changed", 06h).
    mov cx, INT13_RETRIES
.read:
    mov [dap + DAP_COUNT], di       ; a failed call may have lowered it
    mov si, dap
    mov ah, INT13_EXTENDED_READ
    mov dl, [bp + HO_DRIVE]
    push cx
    int 0x13
    pop cx
    jnc .loaded
    mov bl, ah                      ; BIOS status code
    mov ah, INT13_RESET
    mov dl, [bp + HO_DRIVE]
    int 0x13
    loop .read
    mov si, msg_read_failed
    call error_begin
    mov al, bl
    call print_hex_byte
    jmp error_end

.loaded:
    cmp dword [STAGE2_ADDRESS + STAGE2_SIGNATURE_OFFSET], STAGE2_SIGNATURE
    STATIC_ASSERT STAGE2_ADDRESS + STAGE2_SIGNATURE_OFFSET < 0x10000
    mov si, msg_no_stage2
    jne fatal
    mov dl, [bp + HO_DRIVE]
    jmp 0:STAGE2_ADDRESS

; ---------------------------------------------------------------------------
; Error output: COM1 (set up here; stage 1 prints nothing on success) and the
; VGA text buffer, written directly so that SeaBIOS' INT 10h-to-serial mirror
; (-nographic) cannot duplicate the line.

; fatal: print `pxhv: error: boot: ` + the string at SI and halt.
fatal:
    call error_begin
    jmp error_end

; error_begin: set up COM1 (115200 8N1), start an error line on the BIOS
; cursor row and print the prefix, then the string at SI. Interrupts go
; off first: SeaBIOS's serial console flushes its pending output from IRQ
; handlers, which would land in the middle of our line.
; Leaves DH = COM1_BASE >> 8 for putc.
error_begin:
    cli
    push si
    mov si, uart_setup
    mov dh, COM1_BASE >> 8
.uart:
    lodsw                           ; al = port low byte, ah = value
    mov dl, al
    mov al, ah
    out dx, al
    cmp si, uart_setup_end
    jb .uart
    call serial_newline             ; SeaBIOS may leave its serial line open
    mov al, [BDA_CURSOR_ROW]
    mov ah, VGA_ROW_BYTES
    mul ah
    xchg di, ax                     ; DI = offset of the cursor row
    push VGA_TEXT_SEGMENT
    pop es
    mov si, msg_error
    call puts
    pop si
    ; fall through

; puts: print the NUL-terminated string at SI.
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret

; print_hex_byte: AL as two hex digits.
print_hex_byte:
    aam 16                          ; AH = high nibble, AL = low nibble
    push ax
    mov al, ah
    call .digit
    pop ax
.digit:
    cmp al, 10                      ; 0..15 -> '0'..'9', 'A'..'F'
    sbb al, 0x69
    das
    ; fall through

; putc: AL to COM1 and to the VGA cell at ES:DI. Needs DH = COM1_BASE >> 8.
putc:
    call serial_putc
    mov ah, VGA_ATTRIBUTE
    stosw
    ret

; serial_putc: AL to COM1 once the transmitter is ready (no FIFO here).
serial_putc:
    push ax
    mov dl, (COM1_BASE + UART_LSR) & 0xFF
.wait:
    in al, dx
    test al, UART_LSR_THRE
    jz .wait
    pop ax
    mov dl, (COM1_BASE + UART_DATA) & 0xFF
    out dx, al
    ret

; error_end: finish the serial line and stop for good.
error_end:
    call serial_newline
.halt:
    cli
    hlt
    jmp .halt

; serial_newline: CR LF to COM1. Needs DH = COM1_BASE >> 8.
serial_newline:
    mov al, 13
    call serial_putc
    mov al, 10
    jmp serial_putc

; --- data --------------------------------------------------------------------
; COM1 at 115200 8N1: (I/O port low byte, value) pairs, applied in order.
%define COM1(register) (COM1_BASE + register) & 0xFF
uart_setup:
    db COM1(UART_LCR), UART_LCR_DLAB
    db COM1(UART_DATA), UART_DIVISOR_115200 & 0xFF
    db COM1(UART_IER), UART_DIVISOR_115200 >> 8
    db COM1(UART_LCR), UART_LCR_8N1
uart_setup_end:

; INT 13h AH=42h disk address packet (EDD 3.0): buffer segment 0, LBA < 2^32.
dap:
    db DAP_SIZE, 0
    dw 0, 0, 0
    dq 0

msg_error:          db "pxhv: error: boot: ", 0
msg_no_extensions:  db "no INT 13h extensions", 0
msg_read_failed:    db "disk read failed, status 0x", 0
msg_no_stage2:      db "stage 2 missing", 0

; The AH=48h result buffer lives in free low memory after the handoff block.
DRIVE_PARAMETERS    equ HANDOFF_ADDRESS + HANDOFF_SIZE

    ; The build fails here ("TIMES value is negative") if stage 1 outgrows
    ; the sector. Stage 1 uses bytes 446..509 too, so the image carries no
    ; MBR partition table (emulators and SeaBIOS do not need one).
    times MBR_SIGNATURE_OFFSET - ($ - $$) db 0
    db 0x55, 0xAA
