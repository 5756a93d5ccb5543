// Barrel of caches, presets and predictors.
export {};
