package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** The pool took frames from the kernel; the event's duration is the time it took. */
@Name("io.kmem.PoolGrowth")
@Label("kmem Pool Growth")
@Category({"kmem", "Page Allocator"})
@Description("The pool took more frames from the kernel (memfd, mlock, pagemap, direct map); duration = the growth's"
        + " time")
public final class PoolGrowthEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Frame Kind")
    @Description("4 KiB shmem, 2 MiB hugetlb or 1 GiB hugetlb")
    String kind;

    @Label("Frames")
    @Description("4 KiB frames taken; 0 when the kernel refused (see Error)")
    long frames;

    @Label("Order")
    @Description("Order of the allocation that needed the growth; -1 for the bring-up or an explicit grow()")
    int order;

    @Label("Error")
    @Description("Why the growth failed; null when it succeeded")
    String error;

    /** Ends the growth and commits it when recorded; {@code error} is null on success. */
    void finish(String pool, String kind, long frames, int order, String error) {
        end();
        if (shouldCommit()) {
            this.pool = pool;
            this.kind = kind;
            this.frames = frames;
            this.order = order;
            this.error = error;
            commit();
        }
    }
}
