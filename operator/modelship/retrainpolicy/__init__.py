"""RetrainPolicy: retrain when it matters, promote only what passes."""
