package io.kmem.internal.trace;

import io.kmem.gfp.Gfp;
import jdk.jfr.FlightRecorder;

/**
 * What the allocators call to emit kmem's JFR events: instant ones in one call, timed ones
 * ({@link PoolGrowthEvent}, {@link ContiguityHarvestEvent}, {@link AllocationWaitEvent})
 * with a start and an end around the slow path they time. Only this class touches the event
 * classes.
 *
 * <p>Cost: each method is called only where the allocator is slow already (it failed, grew,
 * waited, or is about to throw), and costs nothing until the Flight Recorder runs: no event
 * class is initialised before {@link #on} says so, because initialising the first one starts
 * JFR's own machinery, measured at 210 ms here, which a pool's bring-up (a growth) must not
 * pay.
 * Once JFR runs, a disabled event costs an allocation the JIT usually removes and one
 * {@code shouldCommit()} test; no string is built unless the event is recorded.
 */
public final class Trace {
    private Trace() {
    }

    /**
     * True once the Flight Recorder is initialised: a recording was started by
     * {@code -XX:StartFlightRecording}, {@code jcmd PID JFR.start} or the {@code jdk.jfr} API.
     * Events made from then on are recorded as the recordings' settings say.
     */
    public static boolean on() {
        return FlightRecorder.isInitialized();
    }

    /**
     * An allocation returned NULL.
     *
     * @param cache  the slab cache, or null
     * @param order  the page order asked for, or -1
     * @param reason why, or null when the allocator gives none
     */
    public static void allocFailure(String pool, String function, String cache, long size, int order, int gfp,
                                    String reason) {
        if (!on()) {
            return;
        }
        AllocationFailureEvent e = new AllocationFailureEvent();
        if (e.shouldCommit()) {
            e.pool = pool;
            e.function = function;
            e.cache = cache;
            e.size = size;
            e.order = order;
            e.gfp = gfp(gfp);
            e.reason = reason;
            e.commit();
        }
    }

    /** A detected misuse about to be thrown: records it and returns {@code exception} for the throw. */
    public static <E extends RuntimeException> E misuse(String pool, String function, long address, E exception) {
        if (!on()) {
            return exception;
        }
        MisuseEvent e = new MisuseEvent();
        if (e.shouldCommit()) {
            e.pool = pool;
            e.function = function;
            e.address = address;
            e.message = exception.getMessage();
            e.exceptionClass = exception.getClass();
            e.commit();
        }
        return exception;
    }

    /** Starts timing a pool growth; null (nothing timed) while the Flight Recorder is not running. */
    public static PoolGrowthEvent growthStart() {
        if (!on()) {
            return null;
        }
        PoolGrowthEvent e = new PoolGrowthEvent();
        e.begin();
        return e;
    }

    /**
     * Ends a growth from {@link #growthStart} (null: nothing) and records it.
     *
     * @param order the order of the allocation that needed it; -1 for the bring-up or an explicit grow
     * @param error why the kernel refused, or null
     */
    public static void growthEnd(PoolGrowthEvent e, String pool, String kind, long frames, int order, String error) {
        if (e != null) {
            e.finish(pool, kind, frames, order, error);
        }
    }

    /** Starts timing a contiguity harvest; null (nothing timed) while the Flight Recorder is not running. */
    public static ContiguityHarvestEvent harvestStart() {
        if (!on()) {
            return null;
        }
        ContiguityHarvestEvent e = new ContiguityHarvestEvent();
        e.begin();
        return e;
    }

    /** Ends a harvest from {@link #harvestStart} (null: nothing) and records it. */
    public static void harvestEnd(ContiguityHarvestEvent e, String pool, int order, long taken, long returned,
                                  boolean hit) {
        if (e != null) {
            e.finish(pool, order, taken, returned, hit);
        }
    }

    /** Starts timing a wait for frees; null (nothing timed) while the Flight Recorder is not running. */
    public static AllocationWaitEvent waitStart() {
        if (!on()) {
            return null;
        }
        AllocationWaitEvent e = new AllocationWaitEvent();
        e.begin();
        return e;
    }

    /** Ends a wait from {@link #waitStart} (null: nothing) and records it with its outcome. */
    public static void waitEnd(AllocationWaitEvent e, String pool, int order, int gfp, String outcome) {
        if (e != null) {
            e.finish(pool, order, gfp, outcome);
        }
    }

    /** A gfp mask as the kernel prints it: {@code 0xcc0(GFP_KERNEL)}. */
    static String gfp(int gfp) {
        return "0x" + Integer.toHexString(gfp) + "(" + Gfp.names(gfp) + ")";
    }
}
