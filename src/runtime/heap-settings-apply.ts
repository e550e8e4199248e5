import { applyHeapSettings } from './heap-settings';

// Imported first by cli.ts, before any other module allocates: the young generation is set while
// it is still at its initial size.
export const heapPlan = applyHeapSettings();
