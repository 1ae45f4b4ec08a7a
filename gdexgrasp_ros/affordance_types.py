"""The five G-DexGrasp affordances, defined once.

A leaf module (it imports nothing of the package) so that both the hand postures and the
object affordance table can name them without the hand package depending on objects.
"""

AFFORDANCES = ("handle-grip", "twist", "wrap-around-grip", "base-support", "trigger-squeeze")
