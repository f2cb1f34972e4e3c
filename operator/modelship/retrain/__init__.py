"""The RetrainPolicy's pure core."""
