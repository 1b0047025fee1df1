package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A contiguity harvest for a high-order block; the event's duration is the harvest's time. */
@Name("io.kmem.ContiguityHarvest")
@Label("kmem Contiguity Harvest")
@Category({"kmem", "Page Allocator"})
@Description("Frames taken from the kernel until they held an aligned run of 2^order PFNs; the rest given back;"
        + " duration = the harvest's time")
public final class ContiguityHarvestEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Order")
    int order;

    @Label("Taken")
    @Description("4 KiB frames taken from the kernel")
    long taken;

    @Label("Returned")
    @Description("4 KiB frames given back to the kernel")
    long returned;

    @Label("Hit")
    @Description("True when the harvest found its block")
    boolean hit;

    /** Ends the harvest and commits it when recorded. */
    void finish(String pool, int order, long taken, long returned, boolean hit) {
        end();
        if (shouldCommit()) {
            this.pool = pool;
            this.order = order;
            this.taken = taken;
            this.returned = returned;
            this.hit = hit;
            commit();
        }
    }
}
