package io.kmem.internal.phys;

import io.kmem.bindings.Libc;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.sys.Sys;

/**
 * One memfd that frames are carved from, and the range of frame indices it owns.
 *
 * <p>Frame index {@code firstIdx + fileOffset / PAGE_SIZE} names the 4 KiB frame at that
 * offset of this memfd, for the life of the pool: a released range (a punched hole) is
 * refilled at the same indices. The memfd is sealed against shrinking ({@code F_SEAL_SHRINK}),
 * so nothing outside the pool can truncate pages out from under a mapping; growing stays
 * allowed because GFP_KERNEL grows the pool, and punching holes stays allowed because the
 * pool gives frames back.
 */
final class FrameSource {
    final FrameKind kind;
    final int fd;
    final long firstIdx;
    final long maxFrames;
    /** Current memfd size in bytes (ftruncate); frames below it are present or holes. */
    long sizeBytes;
    /** Frames released (punched) below sizeBytes, refilled before the memfd grows. */
    long holeFrames;

    FrameSource(FrameKind kind, long firstIdx, long maxFrames, String name) {
        this.kind = kind;
        this.firstIdx = firstIdx;
        this.maxFrames = maxFrames;
        int flags = Libc.MFD_CLOEXEC() | Libc.MFD_ALLOW_SEALING();
        if (kind == FrameKind.HUGE_2M) {
            flags |= Libc.MFD_HUGETLB() | Libc.MFD_HUGE_2MB();
        } else if (kind == FrameKind.HUGE_1G) {
            flags |= Libc.MFD_HUGETLB() | Libc.MFD_HUGE_1GB();
        }
        this.fd = Sys.memfdCreate("kmem:" + name + ":" + kind.name().toLowerCase(), flags);
        try {
            Sys.fcntl(fd, Libc.F_ADD_SEALS(), Libc.F_SEAL_SHRINK());
        } catch (RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    /** Seals currently set on the memfd ({@code F_GET_SEALS}). */
    int seals() {
        return Sys.fcntl(fd, Libc.F_GET_SEALS(), 0);
    }

    long maxBytes() {
        return maxFrames * PhysLayout.PAGE_SIZE;
    }

    boolean owns(long idx) {
        return idx >= firstIdx && idx < firstIdx + maxFrames;
    }

    long fileOffset(long idx) {
        return (idx - firstIdx) << PhysLayout.PAGE_SHIFT;
    }

    /** Makes the memfd at least {@code bytes} long. */
    void extendTo(long bytes) {
        if (bytes > sizeBytes) {
            Sys.ftruncate(fd, bytes);
            sizeBytes = bytes;
        }
    }

    /** Gives the pages of {@code [offset, offset + length)} back to the kernel; the size stays. */
    void punch(long offset, long length) {
        Sys.fallocate(fd, Libc.FALLOC_FL_PUNCH_HOLE() | Libc.FALLOC_FL_KEEP_SIZE(), offset, length);
    }

    void close() {
        Sys.close(fd);
    }
}
