package io.kmem.internal.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.kmem.bindings.Libc;
import io.kmem.bindings.io_uring_params;
import io.kmem.bindings.iovec;
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

    @Test
    void theStructConstantsMatchTheBindings() {
        assertEquals(io_uring_params.sizeof(), Sys.IO_URING_PARAMS_BYTES, "sizeof(struct io_uring_params)");
        assertEquals(iovec.sizeof(), Sys.IOVEC_BYTES, "sizeof(struct iovec)");
        assertEquals(iovec.iov_base$offset(), Sys.IOV_BASE, "offsetof(struct iovec, iov_base)");
        assertEquals(iovec.iov_len$offset(), Sys.IOV_LEN, "offsetof(struct iovec, iov_len)");
        assertEquals(8, iovec.iov_base$layout().byteSize(), "iov_base: a 64-bit pointer, written as a long");
        assertEquals(8, iovec.iov_len$layout().byteSize(), "iov_len: a 64-bit size_t, written as a long");
    }
}
