package io.kmem.internal.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.kmem.bindings.Libc;
import java.lang.foreign.FunctionDescriptor;
import org.junit.jupiter.api.Test;

/**
 * Sys links its calls with descriptors of its own ({@link Sys.Desc}, so that it does not link
 * each call a second time through jextract's holders): each must equal the bindings'
 * declaration of the same function, which make bindings regenerates from the C headers.
 */
class SysDescriptorsTest {

    private static void same(FunctionDescriptor bindings, FunctionDescriptor sys, String function) {
        assertEquals(bindings, sys, function + ": Sys.Desc differs from the bindings' declaration");
    }

    @Test
    void fixedArityCallsMatchTheBindings() {
        same(Libc.mmap$descriptor(), Sys.Desc.MMAP, "mmap");
        same(Libc.munmap$descriptor(), Sys.Desc.MUNMAP, "munmap");
        same(Libc.mprotect$descriptor(), Sys.Desc.MPROTECT, "mprotect");
        same(Libc.mlock$descriptor(), Sys.Desc.MLOCK, "mlock");
        same(Libc.munlock$descriptor(), Sys.Desc.MUNLOCK, "munlock");
        same(Libc.madvise$descriptor(), Sys.Desc.MADVISE, "madvise");
        same(Libc.mincore$descriptor(), Sys.Desc.MINCORE, "mincore");
        same(Libc.memfd_create$descriptor(), Sys.Desc.MEMFD_CREATE, "memfd_create");
        same(Libc.ftruncate$descriptor(), Sys.Desc.FTRUNCATE, "ftruncate");
        same(Libc.fallocate$descriptor(), Sys.Desc.FALLOCATE, "fallocate");
        same(Libc.close$descriptor(), Sys.Desc.CLOSE, "close");
        same(Libc.pread$descriptor(), Sys.Desc.PREAD, "pread");
        same(Libc.pwrite$descriptor(), Sys.Desc.PWRITE, "pwrite");
        same(Libc.sysconf$descriptor(), Sys.Desc.SYSCONF, "sysconf");
        same(Libc.getrlimit$descriptor(), Sys.Desc.GETRLIMIT, "getrlimit");
        same(Libc.read$descriptor(), Sys.Desc.READ, "read");
        same(Libc.write$descriptor(), Sys.Desc.WRITE, "write");
        same(Libc.eventfd$descriptor(), Sys.Desc.EVENTFD, "eventfd");
        same(Libc.poll$descriptor(), Sys.Desc.POLL, "poll");
        same(Libc.sched_getcpu$descriptor(), Sys.Desc.SCHED_GETCPU, "sched_getcpu");
        same(Libc.getpid$descriptor(), Sys.Desc.GETPID, "getpid");
        same(Libc.strerror$descriptor(), Sys.Desc.STRERROR, "strerror");
        same(Libc.strerrorname_np$descriptor(), Sys.Desc.STRERRORNAME_NP, "strerrorname_np");
    }

    @Test
    void variadicCallsMatchTheBindings() {
        same(Libc.open.makeInvoker(Libc.C_INT).descriptor(), Sys.Desc.OPEN.appendArgumentLayouts(Libc.C_INT), "open");
        same(Libc.fcntl.makeInvoker(Libc.C_INT).descriptor(), Sys.Desc.FCNTL.appendArgumentLayouts(Libc.C_INT), "fcntl");
        same(Libc.ioctl.makeInvoker(Libc.C_LONG).descriptor(), Sys.Desc.IOCTL.appendArgumentLayouts(Libc.C_LONG), "ioctl");
        same(Libc.syscall.makeInvoker(Libc.C_LONG).descriptor(), Sys.Desc.SYSCALL.appendArgumentLayouts(Libc.C_LONG),
                "syscall");
        same(Libc.mremap.makeInvoker(Libc.C_POINTER).descriptor(),
                Sys.Desc.MREMAP.appendArgumentLayouts(Libc.C_POINTER), "mremap");
    }
}
