package io.kmem.internal.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.kmem.bindings.Libc;
import java.lang.foreign.FunctionDescriptor;
import org.junit.jupiter.api.Test;

/**
 * Sys links syscall(2) and four C library functions with descriptors of its own
 * ({@link Sys.Desc}, so that it does not link each a second time through jextract's holders):
 * each must equal the bindings' declaration of the same function, which make bindings
 * regenerates from the C headers. The system call numbers are the bindings' {@code SYS_*},
 * checked against gcc by {@code BindingsCheckTest}.
 */
class SysDescriptorsTest {

    private static void same(FunctionDescriptor bindings, FunctionDescriptor sys, String function) {
        assertEquals(bindings, sys, function + ": Sys.Desc differs from the bindings' declaration");
    }

    @Test
    void theCLibrarysFunctionsMatchTheBindings() {
        same(Libc.sysconf$descriptor(), Sys.Desc.SYSCONF, "sysconf");
        same(Libc.sched_getcpu$descriptor(), Sys.Desc.SCHED_GETCPU, "sched_getcpu");
        same(Libc.strerror$descriptor(), Sys.Desc.STRERROR, "strerror");
        same(Libc.strerrorname_np$descriptor(), Sys.Desc.STRERRORNAME_NP, "strerrorname_np");
    }

    @Test
    void syscallMatchesTheBindings() {
        // Every system call goes through syscall(2) with six variadic longs.
        same(Libc.syscall.makeInvoker(Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG)
                .descriptor(), Sys.Desc.SYSCALL.appendArgumentLayouts(Libc.C_LONG, Libc.C_LONG, Libc.C_LONG,
                Libc.C_LONG, Libc.C_LONG, Libc.C_LONG), "syscall");
    }
}
