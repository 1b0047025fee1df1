package io.kmem;

import io.kmem.error.BadAddressException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The var handles behind the ring accessors ({@link RwOnceApi}, {@link DmaBuffer}): aligned,
 * little-endian views of 8, 16, 32 and 64 bits. {@code READ_ONCE}/{@code WRITE_ONCE} are their
 * opaque accesses, {@code smp_load_acquire}/{@code smp_store_release} their acquire and release
 * accesses; none of them allocates.
 */
final class Once {
    static final VarHandle U8 = ValueLayout.JAVA_BYTE.varHandle();
    static final VarHandle U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    static final VarHandle U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    static final VarHandle U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private Once() {
    }

    /** Checks an access of {@code bytes} at {@code offset} of {@code seg}: inside it and naturally aligned. */
    static void check(String function, MemorySegment seg, long offset, int bytes) {
        if (seg == null) {
            throw new NullPointerException(function + ": seg is null");
        }
        if (offset < 0 || offset > seg.byteSize() - bytes || ((seg.address() + offset) & (bytes - 1)) != 0) {
            throw new BadAddressException(String.format("%s(0x%x): %s; expected a %d-byte aligned offset from 0 to %d"
                    + " of the segment [0x%x, +%d)", function, offset, offset < 0 || offset > seg.byteSize() - bytes
                    ? "outside the segment" : "not aligned", bytes, seg.byteSize() - bytes, seg.address(),
                    seg.byteSize()));
        }
    }
}
