"""Words the generator builds names from: chains, trades, surnames, and which sources publish which
kind of place. Plain data, no logic."""
from __future__ import annotations

# brand, acteur_type, source profile, legal name of the company behind the brand
CHAINS = [
    ("Darty", "commerce", "electro", "ETABLISSEMENTS DARTY ET FILS"),
    ("Boulanger", "commerce", "electro", "BOULANGER SA"),
    ("Fnac", "commerce", "electro", "FNAC DARTY PARTICIPATIONS ET SERVICES"),
    ("Leroy Merlin", "commerce", "brico", "LEROY MERLIN FRANCE"),
    ("Castorama", "commerce", "brico", "CASTORAMA FRANCE"),
    ("Brico Dépôt", "commerce", "brico", "BRICO DEPOT"),
    ("Mr Bricolage", "commerce", "brico", "MR BRICOLAGE"),
    ("Kiabi", "commerce", "textile", "KIABI EUROPE"),
    ("Décathlon", "commerce", "textile", "DECATHLON FRANCE"),
    ("H&M", "commerce", "textile", "H & M HENNES & MAURITZ"),
    ("La Halle", "commerce", "textile", "LA HALLE"),
    ("Cash Express", "commerce", "occasion", "CASH EXPRESS FRANCE"),
    ("Easy Cash", "commerce", "occasion", "EASY CASH"),
    ("Cash Converters", "commerce", "occasion", "CASH CONVERTERS FRANCE"),
    ("Norauto", "commerce", "auto", "NORAUTO FRANCE"),
    ("Feu Vert", "commerce", "auto", "FEU VERT"),
    ("Point S", "commerce", "auto", "POINT S FRANCE"),
    ("Euromaster", "commerce", "auto", "EUROMASTER FRANCE"),
    ("Carrefour", "commerce", "grande_surface", "CARREFOUR HYPERMARCHES"),
    ("E.Leclerc", "commerce", "grande_surface", "SCA NORMANDE"),
    ("Intermarché", "commerce", "grande_surface", "ITM ALIMENTAIRE"),
    ("Auchan", "commerce", "grande_surface", "AUCHAN HYPERMARCHE"),
    ("Conforama", "commerce", "meuble", "CONFORAMA FRANCE"),
    ("But", "commerce", "meuble", "BUT INTERNATIONAL"),
    ("Ikea", "commerce", "meuble", "IKEA FRANCE"),
]

# trade prefix of an independent business, its acteur_type
TRADES = [
    ("Cordonnerie", "artisan"), ("Garage", "artisan"), ("Atelier vélo", "artisan"),
    ("Retouches", "artisan"), ("Couture", "artisan"), ("Horlogerie", "artisan"),
    ("Réparation électroménager", "artisan"), ("Informatique Services", "artisan"),
    ("Ébénisterie", "artisan"), ("Tapisserie", "artisan"), ("Bijouterie", "artisan"),
    ("Téléphonie", "commerce"), ("Brocante", "commerce"), ("Dépôt-vente", "commerce"),
    ("Friperie", "commerce"), ("Librairie", "commerce"), ("Cycles", "commerce"),
    ("Quincaillerie", "commerce"), ("Électroménager", "commerce"), ("Mercerie", "commerce"),
]

SURNAMES = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
    "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
    "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefevre", "Faure", "Andre",
    "Mercier", "Blanc", "Guerin", "Boyer", "Garnier", "Chevalier", "Francois", "Legrand", "Gauthier",
    "Garcia", "Perrin", "Robin", "Clement", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier",
    "Masson", "Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noel", "Meyer", "Dufour",
    "Meunier", "Brun", "Blanchard", "Giraud", "Joly", "Riviere", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Martinez", "Gerard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal",
    "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier",
    "Philippe", "Bourgeois", "Pierre", "Benoit", "Rey", "Leclerc", "Payet", "Rolland", "Leclercq",
    "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier",
    "Sanchez", "Dupuis", "Moulin", "Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury",
    "Royer", "Klein", "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carre", "Charles",
    "Renault", "Charpentier", "Menard", "Maillard", "Baron", "Bertin", "Bailly", "Herve", "Schneider",
    "Fernandez", "Le_Gall", "Collet", "Leger", "Bouvier", "Julien", "Prevost", "Millet", "Perrot", "Daniel",
    "Le_Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois", "Remy", "Le_Goff", "Pelletier",
    "Leveque", "Perrier", "Leblanc", "Barre", "Lebrun", "Marchal", "Weber", "Mallet", "Hamon", "Boulanger",
    "Jacob", "Monnier", "Michaud", "Rodriguez", "Guichard", "Gillet", "Etienne", "Grondin", "Poulain",
    "Tessier", "Chevallier", "Collin", "Chauvin", "Da_Silva", "Bouchet", "Gay", "Lemaitre", "Benard",
    "Marechal", "Humbert",
]
SURNAMES = [s.replace("_", " ") for s in SURNAMES]

ESS_PATTERNS = ["Emmaüs {ville}", "La Recyclerie de {ville}", "Ressourcerie {quartier}", "Envie {ville}",
                "Secours Populaire {ville}", "Croix-Rouge française {ville}", "Recyclerie du {quartier}",
                "Repair Café {ville}", "Ressourcerie de {ville}", "Le Relais {ville}"]
QUARTIERS = ["Nord", "Sud", "Est", "Ouest", "Centre", "Les Granges", "La Plaine", "Bellevue", "Les Tilleuls",
             "Le Moulin", "La Gare", "Saint-Jean", "Les Chênes", "Beauséjour", "La Roseraie"]
PHARMACY_PATTERNS = ["Pharmacie {nom}", "Pharmacie de la Gare", "Pharmacie du Marché", "Grande Pharmacie de {ville}",
                     "Pharmacie {nom}", "Pharmacie de l'Église", "Pharmacie du quartier {quartier}", "Pharmacie {nom} et {nom2}"]
DECHETERIE_PATTERNS = ["Déchèterie de {ville}", "Déchèterie {ville} {quartier}", "Déchèterie intercommunale de {ville}"]
COLLECTIVITE_PATTERNS = ["Mairie de {ville}", "Hôtel de Ville de {ville}", "Mairie annexe {quartier} - {ville}"]
PAV_NAMES = ["Conteneur Le Relais", "Borne textile", "Point d'apport volontaire textile", "Borne Refashion",
             "Conteneur à vêtements", "Point de collecte piles"]
INERTES_PATTERNS = ["Plateforme inertes de {ville}", "Centre de recyclage des inertes {ville}"]
PONCTUEL_PATTERNS = ["Collecte solidaire {ville}", "Collecte DDS {ville} {quartier}"]
DIGITAL_A = ["Répar", "Seconde", "Troc", "Reboot", "Recycl", "Back", "Éco", "Re", "Vert", "Circul", "Ré", "Bonne",
             "Cycle", "Ré-", "Nouvelle", "Grande", "Petite", "Super", "Hop", "Zéro"]
DIGITAL_B = ["Market", "Vie", "Shop", "Planète", "Occaz", "Box", "Cash", "Store", "Place", "Club", "Lab", "Net", "Zone",
             "Boutique", "Loop", "Mode", "Tech", "Fix", "Gift", "Dépôt"]
# generic names that many different places carry (hard negatives), with their acteur_type
GENERIC = [("Pharmacie du Centre", "ets_sante", "pharmacie"), ("Mairie", "collectivite", "collectivite"),
           ("Déchèterie municipale", "decheterie", "decheterie"), ("Garage du Centre", "artisan", "independant"),
           ("Ressourcerie", "ess", "ess"), ("Cordonnerie du Centre", "artisan", "independant")]
MALLS = ["Centre commercial {ville} Sud", "Centre commercial Les Arcades", "Centre commercial Grand Var",
         "Galerie marchande Carrefour", "Centre commercial Les 4 Temps", "Centre commercial Cap Nord",
         "Centre commercial Le Polygone", "Centre commercial Mayol"]
LEGAL_FORMS = ["SARL", "SAS", "EURL", "SASU", "SA", "SCOP"]

# source profiles: which sources publish a kind of place, with relative weights
PROFILES = {
    "electro": {"ecosystem": 5, "corepile": 4, "batribox": 3, "ecomaison": 1, "communaute": 1},
    "brico": {"ecomaison": 5, "ecosystem": 3, "ecodds": 3, "corepile": 2, "batribox": 2, "communaute": 1},
    "textile": {"refashion": 6, "corepile": 2, "batribox": 2, "ecosystem": 1, "communaute": 1},
    "occasion": {"ecosystem": 4, "refashion": 3, "communaute": 2, "corepile": 1},
    "auto": {"aliapur": 6, "cyclevia": 5, "corepile": 2, "batribox": 2, "communaute": 1},
    "grande_surface": {"corepile": 4, "batribox": 4, "ecosystem": 3, "refashion": 2, "cyclevia": 1,
                       "communaute": 1},
    "meuble": {"ecomaison": 6, "ecosystem": 3, "refashion": 1, "communaute": 1},
    "independant": {"cma": 6, "communaute": 3, "refashion": 2, "ecosystem": 2, "cyclevia": 1, "corepile": 1},
    "ess": {"refashion": 5, "ecomaison": 4, "ecosystem": 3, "communaute": 3, "corepile": 1},
    "decheterie": {"sinoe": 8, "ecomaison": 4, "ecosystem": 3, "ecodds": 3, "corepile": 2, "batribox": 1,
                   "aliapur": 1, "cyclevia": 1, "communaute": 1},
    "pharmacie": {"cyclamed": 8, "corepile": 2, "batribox": 2, "communaute": 1},
    "collectivite": {"corepile": 3, "batribox": 3, "ecodds": 2, "ecosystem": 2, "communaute": 1},
    "pav": {"refashion": 6, "ecomaison": 2, "communaute": 1},
    "digital": {"communaute": 3, "refashion": 2, "ecosystem": 2},
    "inertes": {"ecomaison": 4, "sinoe": 2, "communaute": 1},
    "ponctuel": {"ecodds": 4, "communaute": 2},
}
