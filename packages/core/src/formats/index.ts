// Barrel of the file formats (.kvq snapshots, safetensors adapters, bit packing).
export {};
