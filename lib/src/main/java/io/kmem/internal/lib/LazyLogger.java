package io.kmem.internal.lib;

import java.util.ResourceBundle;

/**
 * A {@link System.Logger} that asks {@link System#getLogger} for its logger on its first use,
 * not when made. The first {@code System.getLogger} of a process starts the logging
 * back end (about 100 classes: {@code java.util.logging}'s {@code LogManager} and its
 * configuration), which a pool that never logs should not pay at its start; the classes that
 * keep a logger in a static final make it with {@link #of}.
 */
public final class LazyLogger implements System.Logger {
    private final String name;
    private volatile System.Logger logger;

    private LazyLogger(String name) {
        this.name = name;
    }

    /** The logger {@code name}, made when it is first used. */
    public static System.Logger of(String name) {
        return new LazyLogger(name);
    }

    private System.Logger logger() {
        System.Logger l = logger;
        if (l == null) {
            // Racing first uses may both ask; System.getLogger gives them equal loggers.
            l = System.getLogger(name);
            logger = l;
        }
        return l;
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public boolean isLoggable(Level level) {
        return logger().isLoggable(level);
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
        logger().log(level, bundle, msg, thrown);
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String format, Object... params) {
        logger().log(level, bundle, format, params);
    }
}
