package io.kmem;

/**
 * An interrupt handler ({@code irq_handler_t}) for {@link IrqApi#request_irq}. It runs on
 * its line's own thread ({@code irq/N-name}), never on the thread that requested it, and in
 * atomic context: only {@code GFP_ATOMIC} (or {@code GFP_NOWAIT}) may allocate there; a
 * {@code GFP_KERNEL} allocation, or anything else that may sleep, is reported as
 * "BUG: sleeping function called from invalid context" naming the handler, then allowed, as
 * the kernel's {@code might_sleep} does.
 */
@FunctionalInterface
public interface IrqHandler {
    /** {@code IRQ_NONE}: the interrupt was not from this device. */
    int IRQ_NONE = 0;
    /** {@code IRQ_HANDLED}. */
    int IRQ_HANDLED = 1;

    /**
     * Handles one interrupt (or several coalesced) of {@code irq}.
     *
     * @param irq the line's irq number
     * @return {@link #IRQ_HANDLED}, or {@link #IRQ_NONE} when the device did not interrupt
     */
    int handle(int irq);
}
