// Placeholder: kernels of triplet_mining are added with their implementation.
