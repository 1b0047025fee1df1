package io.kmem.gfp;

/**
 * Where a pool's frames come from: a memfd of 4 KiB shmem pages, or a hugetlbfs memfd of
 * 2 MiB or 1 GiB pages. Whatever the kind, the pool manages 4 KiB frames; a hugepage is
 * 2^9 (or 2^18) of them, physically contiguous and never migrated by compaction.
 */
public enum FrameKind {
    /** 4 KiB shmem pages, populated and mlocked. Cheap, scattered, movable by compaction. */
    SMALL_4K(4096, "4 KiB shmem"),
    /** 2 MiB hugetlb pages ({@code MFD_HUGETLB | MFD_HUGE_2MB}); needs reserved hugepages. */
    HUGE_2M(2L << 20, "2 MiB hugetlb"),
    /** 1 GiB hugetlb pages ({@code MFD_HUGETLB | MFD_HUGE_1GB}); needs reserved gigantic pages. */
    HUGE_1G(1L << 30, "1 GiB hugetlb");

    /** The pool's frame: 4 KiB, as io.kmem.internal.phys.PhysLayout (this package depends on no other). */
    private static final long FRAME_SIZE = 4096;
    private final long pageSize;
    private final String label;

    FrameKind(long pageSize, String label) {
        this.pageSize = pageSize;
        this.label = label;
    }

    /**
     * Size in bytes of the pages the kernel gives this source.
     *
     * @return 4 KiB, 2 MiB or 1 GiB
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * 4 KiB frames per page of this kind.
     *
     * @return 1, 512 or 262144
     */
    public int framesPerPage() {
        return (int) (pageSize / FRAME_SIZE);
    }

    /**
     * Order of one page of this kind counted in 4 KiB frames.
     *
     * @return 0, 9 or 18
     */
    public int pageOrder() {
        return Long.numberOfTrailingZeros(framesPerPage());
    }

    /**
     * Whether the pages come from hugetlbfs.
     *
     * @return true for {@link #HUGE_2M} and {@link #HUGE_1G}
     */
    public boolean hugetlb() {
        return this != SMALL_4K;
    }

    /**
     * A label for reports.
     *
     * @return e.g. "2 MiB hugetlb"
     */
    public String label() {
        return label;
    }
}
