package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A blocking allocation waited for frees; the event's duration is the wait. */
@Name("io.kmem.AllocationWait")
@Label("kmem Allocation Wait")
@Category({"kmem", "Page Allocator"})
@Description("A blocking allocation (GFP_KERNEL) waited for other threads' frees; duration = the wait")
public final class AllocationWaitEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Order")
    int order;

    @Label("GFP")
    String gfp;

    @Label("Outcome")
    @Description("served, timed out, interrupted or closed (the pool closed during the wait)")
    String outcome;

    /** Ends the wait and commits it when recorded. */
    void finish(String pool, int order, int gfp, String outcome) {
        end();
        if (shouldCommit()) {
            this.pool = pool;
            this.order = order;
            this.gfp = Trace.gfp(gfp);
            this.outcome = outcome;
            commit();
        }
    }
}
