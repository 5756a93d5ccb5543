// Barrel of the quantizers (filled by the quantizer work).
export {};
