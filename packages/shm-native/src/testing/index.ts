/**
 * FOR TESTS ONLY (`@shmsnap/shm-native/testing`): the in-memory binding and
 * the binding conformance suite. Nothing here touches real shared memory;
 * pass the fake as `binding` to the shm source, the shm target, the shm.ts
 * wrappers and fixtures.
 */
export * from './fake-binding.js';
export * from './binding-suite.js';
