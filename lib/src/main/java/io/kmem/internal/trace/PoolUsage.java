package io.kmem.internal.trace;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;

/**
 * The periodic {@link PoolUsageEvent}: one hook for the JVM that asks every open pool for its
 * figures. The hook is registered only once the Flight Recorder is initialised (a listener
 * waits for it), because {@link FlightRecorder#addPeriodicEvent} loads JFR's machinery
 * (about half a second), which a pool's bring-up must not pay; until then a pool's
 * registration costs a set insertion.
 */
public final class PoolUsage {
    /** What a pool reports each period: its name and figures in 4 KiB frames. */
    public interface Source {
        void emit(Sink sink);
    }

    /** Receives one pool's figures. */
    public interface Sink {
        void usage(String pool, long managed, long free, long cached, long vmallocPages, long allocFailures,
                   long misuses);
    }

    private static final Set<Source> SOURCES = ConcurrentHashMap.newKeySet();
    private static final AtomicBoolean LISTENING = new AtomicBoolean();

    private PoolUsage() {
    }

    /** Adds an open pool; its figures are recorded each period from now on. */
    public static void add(Source source) {
        SOURCES.add(source);
        if (LISTENING.compareAndSet(false, true)) {
            FlightRecorder.addListener(new FlightRecorderListener() {
                @Override
                public void recorderInitialized(FlightRecorder recorder) {
                    FlightRecorder.addPeriodicEvent(PoolUsageEvent.class, PoolUsage::emitAll);
                }
            });
        }
    }

    /** Removes a pool (at its close). */
    public static void remove(Source source) {
        SOURCES.remove(source);
    }

    private static void emitAll() {
        for (Source s : SOURCES) {
            try {
                s.emit((pool, managed, free, cached, vmallocPages, allocFailures, misuses) -> {
                    PoolUsageEvent e = new PoolUsageEvent();
                    e.set(pool, managed, free, cached, vmallocPages, allocFailures, misuses);
                    e.commit();
                });
            } catch (RuntimeException closedMeanwhile) {
                // The pool closed between the snapshot of the set and its figures: nothing to record.
            }
        }
    }
}
