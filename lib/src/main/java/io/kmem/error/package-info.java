/**
 * The exceptions kmem throws: each names the function, the address or PFN, and what was
 * expected. Out-of-memory is never an exception; allocations return NULL.
 */
package io.kmem.error;
