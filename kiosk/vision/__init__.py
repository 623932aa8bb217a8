"""Detection (MTCNN), alignment, the Siamese embedding network and 1:N matching."""
