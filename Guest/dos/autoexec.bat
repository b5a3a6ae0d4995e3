@ECHO OFF
REM pxHV's FreeDOS AUTOEXEC.BAT. --freedos-poweroff fdapm adds /KEEP to
REM the PXHVCHK line (FreeDOSFloppy.autoexec): it then makes no power-off
REM hypercall and returns here.
REM CTTY AUX: DOS's console becomes AUX, COM1 through the BIOS's INT 14h,
REM which pxHV passes through to the serial log.
CTTY AUX
ECHO pxhv-guest: autoexec.bat: console on AUX (COM1)
VER /R
A:\PXHVCHK.COM
REM Reached when PXHVCHK returns: with /KEEP (--freedos-poweroff fdapm),
REM without pxHV (a native boot), or when its power-off hypercall was
REM refused. FreeDOS's own power-off then: APM "off" through the BIOS.
REM PUREOFF is POWEROFF without first stopping the IDE disks: those are the
REM machine's (pxHV's boot drive), and stopping them costs about 8 s.
IF EXIST A:\FDAPM.COM ECHO pxhv-guest: autoexec.bat: FDAPM PUREOFF
IF EXIST A:\FDAPM.COM A:\FDAPM.COM PUREOFF
