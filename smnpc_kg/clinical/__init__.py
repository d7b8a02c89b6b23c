"""Patients and what applies to them: the patient model, classification by the defined classes, the pathway walk."""
