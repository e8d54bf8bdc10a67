"""The Firestore client, its retry policy and the translation of storage failures."""
