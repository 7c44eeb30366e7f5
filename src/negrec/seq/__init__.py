"""Sequential recommenders (SASRec, GRU4Rec) trained with negrec's losses and sampler objects on ordered histories."""
