package refrunner

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// kernel32's GetSystemTimes and GlobalMemoryStatusEx have no wrapper in
// golang.org/x/sys/windows; GetDiskFreeSpaceEx has.
var (
	kernel32                 = windows.NewLazySystemDLL("kernel32.dll")
	procGetSystemTimes       = kernel32.NewProc("GetSystemTimes")
	procGlobalMemoryStatusEx = kernel32.NewProc("GlobalMemoryStatusEx")
)

// fileTimeTicks is the number of 100 ns units in a FILETIME.
func fileTimeTicks(ft windows.Filetime) uint64 {
	return uint64(ft.HighDateTime)<<32 | uint64(ft.LowDateTime)
}

// readCPUTimes returns the cumulative idle and total CPU time of all
// processors, in 10 ms units (the jiffies the CPU meter's window counts).
// Windows' kernel time already includes the idle time.
func readCPUTimes() (idle, total uint64, err error) {
	var idleT, kernelT, userT windows.Filetime
	r, _, e := procGetSystemTimes.Call(
		uintptr(unsafe.Pointer(&idleT)), uintptr(unsafe.Pointer(&kernelT)), uintptr(unsafe.Pointer(&userT)))
	if r == 0 {
		return 0, 0, e
	}
	const jiffy = 100_000 // 10 ms in 100 ns units
	return fileTimeTicks(idleT) / jiffy, (fileTimeTicks(kernelT) + fileTimeTicks(userT)) / jiffy, nil
}

// memoryStatusEx is MEMORYSTATUSEX.
type memoryStatusEx struct {
	length               uint32
	memoryLoad           uint32
	totalPhys            uint64
	availPhys            uint64
	totalPageFile        uint64
	availPageFile        uint64
	totalVirtual         uint64
	availVirtual         uint64
	availExtendedVirtual uint64
}

// readMemInfo returns total and available physical memory in MB.
func readMemInfo() (totalMB, availMB float64, err error) {
	st := memoryStatusEx{}
	st.length = uint32(unsafe.Sizeof(st))
	r, _, e := procGlobalMemoryStatusEx.Call(uintptr(unsafe.Pointer(&st)))
	if r == 0 {
		return 0, 0, e
	}
	const mb = 1 << 20
	return float64(st.totalPhys) / mb, float64(st.availPhys) / mb, nil
}

// diskUsage returns the size and used space, in MB, of the volume holding dir.
func diskUsage(dir string) (totalMB, usedMB float64, err error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, 0, err
	}
	var freeToCaller, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &freeToCaller, &total, &free); err != nil {
		return 0, 0, err
	}
	const mb = 1 << 20
	return float64(total) / mb, float64(total-free) / mb, nil
}
