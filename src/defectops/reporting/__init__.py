"""What a run leaves for people: JSON reports, the learning curve and the model card."""
