package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** An allocation that returned NULL: page allocator, slab, large kmalloc or vmalloc. */
@Name("io.kmem.AllocationFailure")
@Label("kmem Allocation Failure")
@Category({"kmem", "Allocation"})
@Description("An allocation that returned NULL, with the kernel's figures: function, size, order, gfp and why")
final class AllocationFailureEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Function")
    @Description("alloc_pages, kmem_cache_alloc, kmalloc, vmalloc, vzalloc, ...")
    String function;

    @Label("Cache")
    @Description("The slab cache, for a slab allocation; null otherwise")
    String cache;

    @Label("Size")
    @DataAmount(DataAmount.BYTES)
    long size;

    @Label("Order")
    @Description("The page order asked for; -1 when the request is not in pages")
    int order;

    @Label("GFP")
    @Description("The gfp mask as the kernel prints it: 0xcc0(GFP_KERNEL)")
    String gfp;

    @Label("Reason")
    String reason;
}
