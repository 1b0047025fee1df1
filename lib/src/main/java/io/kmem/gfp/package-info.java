/**
 * The vocabulary every layer shares: the GFP flags ({@link io.kmem.gfp.Gfp}), the physical
 * zones they select ({@link io.kmem.gfp.ZoneType}) and the kinds of pages a pool's frames come
 * from ({@link io.kmem.gfp.FrameKind}). This package depends on no other of kmem's.
 */
package io.kmem.gfp;
