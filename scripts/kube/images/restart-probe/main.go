// restart-probe: the container of the s3gw restart-timing probe on the real test node, a stand-in
// for the seed's patched radosgw that exits when told to. Run without arguments it is the
// container's main process: it prints "restart-probe started" and serves a Unix socket. Run as
// `restart-probe exit 0|1` or `restart-probe segv` (through `kubectl exec`) it asks the main
// process to die that way and prints what the main process answered:
//
//	exit 0   the main process exits with code 0 (the seed's EXIT_0)
//	exit 1   the main process exits with code 1 (the seed's EXIT_1)
//	segv     the main process faults on an unmapped address with SIGSEGV's default action, so
//	         the kernel kills it with SIGSEGV (exit 139, the seed's CORE_BY_SEG_FAULT)
//
// SIGTERM (the kubelet stopping the pod) exits 0. As PID 1 of its container the program only
// dies of signals it handles, or of a fault: that is why `segv` is a real memory fault.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const socketPath = "/tmp/restart-probe.sock"

func main() {
	if len(os.Args) > 1 {
		os.Exit(client(os.Args[1:]))
	}
	serve()
}

func client(args []string) int {
	req := strings.Join(args, " ")
	switch req {
	case "exit 0", "exit 1", "segv":
	default:
		fmt.Fprintf(os.Stderr, "restart-probe: unknown request %q: expected `exit 0`, `exit 1` or `segv`\n", req)
		return 2
	}
	conn, err := net.DialTimeout("unix", socketPath, 2*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "restart-probe: the main process is not listening on %s: %v\n", socketPath, err)
		return 3
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "%s\n", req)
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Fprintf(os.Stderr, "restart-probe: no answer from the main process: %v\n", err)
		return 3
	}
	fmt.Print(answer)
	return 0
}

func serve() {
	_ = os.Remove(socketPath)
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "restart-probe: listen %s: %v\n", socketPath, err)
		os.Exit(3)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		fmt.Printf("%s restart-probe: %v, exiting 0\n", stamp(), s)
		os.Exit(0)
	}()
	fmt.Printf("%s restart-probe started (pid %d)\n", stamp(), os.Getpid())
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(conn)
	}
}

func handle(conn net.Conn) {
	req, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		conn.Close()
		return
	}
	req = strings.TrimSpace(req)
	fmt.Fprintf(conn, "dying: %s\n", req)
	conn.Close()
	fmt.Printf("%s restart-probe: told to die: %s\n", stamp(), req)
	// Let the exec's answer and the log line leave before the process goes.
	time.Sleep(50 * time.Millisecond)
	switch req {
	case "exit 0":
		os.Exit(0)
	case "exit 1":
		os.Exit(1)
	case "segv":
		segfault()
	}
}

// segfault restores SIGSEGV's default action (the Go runtime would turn the fault into a panic
// and exit 2) and writes to an unmapped address: the kernel then kills the process with SIGSEGV.
func segfault() {
	var act [4]uintptr // struct kernel_sigaction on amd64: handler, flags, restorer, mask (all zero: SIG_DFL)
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGSEGV),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "restart-probe: rt_sigaction: %v\n", e)
	}
	bad := uintptr(0x10)
	*(*int)(unsafe.Pointer(bad)) = 1 //nolint:govet // the fault is the point
	os.Exit(139)                     // not reached
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }
