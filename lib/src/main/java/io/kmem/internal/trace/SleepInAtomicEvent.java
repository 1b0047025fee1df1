package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** An allocation that may sleep, made by an interrupt handler (atomic context). */
@Name("io.kmem.SleepInAtomic")
@Label("kmem Sleeping Function In Atomic Context")
@Category({"kmem", "Interrupts"})
@Description("BUG: sleeping function called from invalid context: a GFP_KERNEL (or other blocking) allocation"
        + " inside an interrupt handler, which may only use GFP_ATOMIC")
final class SleepInAtomicEvent extends jdk.jfr.Event {
    @Label("Function")
    @Description("The allocation call: kmalloc, alloc_pages, __vmalloc, dma_alloc_coherent, ...")
    String function;

    @Label("GFP")
    String gfp;

    @Label("Handler")
    @Description("The handler's name as given to request_irq, and its irq number")
    String handler;
}
