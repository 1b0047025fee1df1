package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/** A misuse an allocator detected and threw for: double free, foreign pointer, wrong order ... */
@Name("io.kmem.Misuse")
@Label("kmem Misuse")
@Category({"kmem", "Misuse"})
@Description("A bug in the caller that an allocator detected (double free, foreign or inner pointer, wrong order or"
        + " cache); the allocator stays usable and throws the exception named here")
final class MisuseEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Function")
    String function;

    @Label("Address")
    @Description("The address passed; 0 when the caller passed a page handle")
    @MemoryAddress
    long address;

    @Label("Message")
    String message;

    @Label("Exception Class")
    Class<?> exceptionClass;
}
