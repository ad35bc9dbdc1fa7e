// The page in English and in French: every label, explanation and message.
//
// The language comes from ?lang=en|fr, then the reader's last choice (localStorage), then the
// browser's languages; the switch in the header changes it at once. Elements carry
// data-i18n="key" (text), data-i18n-html="key" (text with markup written here), or
// data-i18n-aria="key" (aria-label); messages made by scripts use t(key, values).
"use strict";

/* exported t, setLanguage, currentLanguage */

const STRINGS = {
  en: {
    "title": "chiffre: a network that reads handwritten digits, in your browser",
    "tagline": "Draw a digit or a number and watch the network read it; train your own network and watch it learn. Everything runs in this page.",
    "lang.switch": "Langue : français",
    "tab.read": "Read",
    "tab.learn": "Learn",
    "read.title": "Your digits",
    "read.pad": "Drawing area: draw a digit or a number with the mouse, a finger or a pen",
    "read.hint": "Write digits side by side, a little apart, for a number. Or drop a picture file here. Escape clears.",
    "read.clear": "Clear",
    "read.open": "Open a picture…",
    "read.model": "Model",
    "read.loadModel": "Load a model file…",
    "result.title": "The network reads",
    "result.empty": "Draw something.",
    "result.notDigit": "I don't see a digit",
    "result.notDigitMark": "not a digit",
    "result.confidence": "{p} % sure",
    "result.digitOf": "Digit {k} of {n}: probabilities",
    "result.noGate": "This network was trained in the page: it has no \"not a digit\" check (chiffre train fits one).",
    "seen.title": "What the network saw",
    "seen.text": "Each digit after the same preprocessing as chiffre predict: cropped, its longer side scaled to 20 pixels, centred by its centre of mass in 28×28, white ink on black, as in MNIST.",
    "maps.title": "Inside the network",
    "maps.text": "What every layer makes of the chosen digit: each small picture is one feature map (bright: strong response), each stretched to its own range. Vectors are drawn as a strip.",
    "layer.conv2d": "convolution layer",
    "layer.relu": "ReLU",
    "layer.sigmoid": "sigmoid",
    "layer.tanh": "tanh",
    "layer.max_pool2d": "max pooling",
    "layer.avg_pool2d": "mean pooling",
    "layer.flatten": "flattening",
    "layer.dense": "fully connected layer",
    "layer.batch_norm2d": "batch normalisation",
    "layer.batch_norm1d": "batch normalisation",
    "layer.dropout": "dropout",
    "learn.title": "Train a network",
    "learn.text": "Training is back-propagation with stochastic gradient descent on mini-batches: the network reads a batch of MNIST images, the error of its answers is carried back through every layer, and each weight moves a little against its gradient. It runs in a Web Worker, so the page stays responsive.",
    "learn.arch": "Network",
    "arch.perceptron": "Perceptron (one layer)",
    "arch.mlp": "Multi-layer perceptron",
    "arch.cnn": "The tutorial's CNN",
    "arch.fast": "fast (99 % in one epoch)",
    "learn.optimizer": "Optimizer",
    "optimizer.default": "the network's own",
    "learn.lr": "Learning rate",
    "learn.lrDefault": "the optimizer's",
    "learn.batch": "Batch size",
    "learn.epochs": "Epochs",
    "learn.limit": "Training images",
    "learn.seed": "Seed",
    "learn.train": "Train",
    "learn.pause": "Pause",
    "learn.resume": "Resume",
    "learn.stop": "Stop",
    "learn.save": "Save the model",
    "learn.curves": "Loss and accuracy on the training images",
    "learn.loss": "loss",
    "learn.accuracy": "accuracy",
    "learn.filters": "The first layer's weights",
    "learn.filtersText": "A convolution's filters (3×3), or the weights each unit gives the 28×28 pixels (blue negative, red positive).",
    "learn.mapsTitle": "One test digit, as the network sees it now",
    "learn.mapsText": "The first test image, then what the first ReLU layer makes of it (for a CNN, the first convolution's feature maps; for the MLP, its hidden units), redrawn every second as the weights change.",
    "status.idle": "Choose the settings and press Train.",
    "status.data": "Loading MNIST ({mb} MB)…",
    "status.progress": "Epoch {epoch}/{epochs}: {seen} of {total} images, loss {loss}, accuracy {acc} %, {rate} images/s",
    "status.paused": "Paused. Resume or stop.",
    "status.testing": "Testing on the 10,000 MNIST test images…",
    "status.done": "Test accuracy {acc} % on {count} images, trained in {seconds} s ({rate} images/s). The Read tab now reads with this network.",
    "status.stopped": "Stopped.",
    "error.no-wasm": "This browser cannot run the engine: it has no WebAssembly. Use a recent Chrome, Edge, Firefox or Safari.",
    "error.no-simd": "This browser is too old for the engine: it has no WebAssembly SIMD. Use Chrome or Edge 91+, Firefox 89+ or Safari 16.4+.",
    "error.load": "The engine could not be loaded: {message}",
    "error.model": "This file is not a model chiffre can read: {message}",
    "error.picture": "This picture cannot be read: {message}",
    "error.training": "Training stopped: {message}",
    "error.settings": "These settings cannot be used: {message}",
    "error.data": "The MNIST files could not be loaded: {message}",
    "error.noData": "This site was written without the MNIST files (chiffre site --no-training): it cannot train.",
    "tab.xo": "The tutorial's example",
    "xo.imageTitle": "The picture",
    "xo.imageText": "A 9×9 black and white picture, as in the tutorial: +1 for ink, −1 for the background.",
    "xo.x": "The X",
    "xo.x2": "Another X",
    "xo.o": "An O",
    "xo.featuresTitle": "The three features",
    "xo.featuresText": "Three 3×3 pieces cut from the X: the filters of a convolution layer, set by hand. Point at (or tap) a cell of a feature map below: its window on the picture is framed, and here are the nine products whose mean it is.",
    "xo.feature0": "diagonal \\",
    "xo.feature1": "centre cross",
    "xo.feature2": "diagonal /",
    "xo.products": "Feature {f}, cell (row {r}, column {c}): the nine products picture × feature",
    "xo.mean": "Their sum is {sum}; divided by 9: {mean}, the value of the cell (1.00 is a perfect match).",
    "xo.stepsTitle": "Convolution, ReLU, pooling, flattening",
    "xo.stepsText": "Each feature slid over the picture gives a feature map (7×7); ReLU turns the negatives into 0; 2×2 max-pooling keeps the largest value of each window (the windows that stick out at the border keep what they cover); flattening lines the pooled maps up into one vector, the input of a fully connected layer.",
    "xo.map": "Feature map",
    "xo.relu": "After ReLU",
    "xo.pool": "After 2×2 max-pooling",
    "xo.flat": "Flattened: {n} values (channels last, so the three pooled maps interleave)",
    "xo.learnTitle": "A tiny CNN learns X against O",
    "xo.learnText": "The same layers (3 filters 3×3, ReLU, 2×2 max-pooling, flattening, 2 outputs) start from random filters and learn by back-propagation, on Xs and Os shifted, turned, scaled and thickened at random; then they are tested on fresh shapes. Compare the filters they learn with the hand-made features.",
    "xo.train": "Train the tiny CNN",
    "xo.result": "{acc} % right on {tested} fresh shapes; mean loss {first} in the first epoch, {last} in the last.",
    "xo.filter": "Learned filter",
    "footer": "chiffre: a convolutional network written from scratch in Rust, here compiled to WebAssembly. MNIST by Y. LeCun, C. Cortes and C. Burges (CC BY-SA 3.0).",
  },
  fr: {
    "title": "chiffre : un réseau qui lit les chiffres manuscrits, dans votre navigateur",
    "tagline": "Dessinez un chiffre ou un nombre et regardez le réseau le lire ; entraînez votre propre réseau et regardez-le apprendre. Tout se passe dans cette page.",
    "lang.switch": "Language: English",
    "tab.read": "Lire",
    "tab.learn": "Apprendre",
    "read.title": "Vos chiffres",
    "read.pad": "Zone de dessin : dessinez un chiffre ou un nombre à la souris, au doigt ou au stylet",
    "read.hint": "Pour un nombre, écrivez les chiffres côte à côte, un peu espacés. Ou déposez ici un fichier image. Échap efface.",
    "read.clear": "Effacer",
    "read.open": "Ouvrir une image…",
    "read.model": "Modèle",
    "read.loadModel": "Charger un fichier de modèle…",
    "result.title": "Le réseau lit",
    "result.empty": "Dessinez quelque chose.",
    "result.notDigit": "Je ne vois pas de chiffre",
    "result.notDigitMark": "pas un chiffre",
    "result.confidence": "sûr à {p} %",
    "result.digitOf": "Chiffre {k} sur {n} : probabilités",
    "result.noGate": "Ce réseau a été entraîné dans la page : il ne sait pas dire « pas un chiffre » (chiffre train le lui apprend).",
    "seen.title": "Ce que le réseau a vu",
    "seen.text": "Chaque chiffre après le même prétraitement que chiffre predict : recadré, son plus grand côté ramené à 20 pixels, centré par son centre de masse dans 28×28, encre blanche sur fond noir, comme dans MNIST.",
    "maps.title": "Dans le réseau",
    "maps.text": "Ce que chaque couche fait du chiffre choisi : chaque petite image est une carte de caractéristiques (clair : forte réponse), chacune étirée à sa propre plage. Les vecteurs sont dessinés en bande.",
    "layer.conv2d": "couche de convolution",
    "layer.relu": "correction ReLU",
    "layer.sigmoid": "sigmoïde",
    "layer.tanh": "tanh",
    "layer.max_pool2d": "pooling (max)",
    "layer.avg_pool2d": "pooling (moyenne)",
    "layer.flatten": "mise à plat",
    "layer.dense": "couche fully connected",
    "layer.batch_norm2d": "normalisation par lots",
    "layer.batch_norm1d": "normalisation par lots",
    "layer.dropout": "dropout",
    "learn.title": "Entraîner un réseau",
    "learn.text": "L'entraînement, c'est la rétropropagation avec la descente de gradient par mini-lots : le réseau lit un lot d'images MNIST, l'erreur de ses réponses remonte à travers chaque couche, et chaque poids bouge un peu à l'opposé de son gradient. Il tourne dans un Web Worker : la page reste réactive.",
    "learn.arch": "Réseau",
    "arch.perceptron": "Perceptron (une couche)",
    "arch.mlp": "Perceptron multicouche",
    "arch.cnn": "Le CNN du tutoriel",
    "arch.fast": "fast (99 % en une époque)",
    "learn.optimizer": "Optimiseur",
    "optimizer.default": "celui du réseau",
    "learn.lr": "Taux d'apprentissage",
    "learn.lrDefault": "celui de l'optimiseur",
    "learn.batch": "Taille des mini-lots",
    "learn.epochs": "Époques",
    "learn.limit": "Images d'entraînement",
    "learn.seed": "Graine",
    "learn.train": "Entraîner",
    "learn.pause": "Pause",
    "learn.resume": "Reprendre",
    "learn.stop": "Arrêter",
    "learn.save": "Enregistrer le modèle",
    "learn.curves": "Perte et exactitude sur les images d'entraînement",
    "learn.loss": "perte",
    "learn.accuracy": "exactitude",
    "learn.filters": "Les poids de la première couche",
    "learn.filtersText": "Les filtres d'une convolution (3×3), ou les poids que chaque neurone donne aux 28×28 pixels (bleu négatif, rouge positif).",
    "learn.mapsTitle": "Un chiffre de test, tel que le réseau le voit maintenant",
    "learn.mapsText": "La première image de test, puis ce qu'en fait la première correction ReLU (pour un CNN, les cartes de caractéristiques de la première couche de convolution ; pour le MLP, ses neurones cachés), redessinées chaque seconde à mesure que les poids changent.",
    "status.idle": "Choisissez les réglages et appuyez sur Entraîner.",
    "status.data": "Chargement de MNIST ({mb} Mo)…",
    "status.progress": "Époque {epoch}/{epochs} : {seen} images sur {total}, perte {loss}, exactitude {acc} %, {rate} images/s",
    "status.paused": "En pause. Reprenez ou arrêtez.",
    "status.testing": "Test sur les 10 000 images de test de MNIST…",
    "status.done": "Exactitude de test {acc} % sur {count} images, entraîné en {seconds} s ({rate} images/s). L'onglet Lire lit maintenant avec ce réseau.",
    "status.stopped": "Arrêté.",
    "error.no-wasm": "Ce navigateur ne peut pas faire tourner le moteur : il n'a pas WebAssembly. Utilisez un Chrome, Edge, Firefox ou Safari récent.",
    "error.no-simd": "Ce navigateur est trop ancien pour le moteur : il n'a pas WebAssembly SIMD. Utilisez Chrome ou Edge 91+, Firefox 89+ ou Safari 16.4+.",
    "error.load": "Le moteur n'a pas pu être chargé : {message}",
    "error.model": "Ce fichier n'est pas un modèle que chiffre sait lire : {message}",
    "error.picture": "Cette image ne peut pas être lue : {message}",
    "error.training": "L'entraînement s'est arrêté : {message}",
    "error.settings": "Ces réglages ne conviennent pas : {message}",
    "error.data": "Les fichiers MNIST n'ont pas pu être chargés : {message}",
    "error.noData": "Ce site a été écrit sans les fichiers MNIST (chiffre site --no-training) : il ne peut pas entraîner.",
    "tab.xo": "L'exemple du tutoriel",
    "xo.imageTitle": "L'image",
    "xo.imageText": "Une image noir et blanc de 9×9 pixels, comme dans le tutoriel : +1 pour l'encre, −1 pour le fond.",
    "xo.x": "Le X",
    "xo.x2": "Un autre X",
    "xo.o": "Un O",
    "xo.featuresTitle": "Les trois caractéristiques",
    "xo.featuresText": "Trois morceaux 3×3 découpés dans le X : les filtres d'une couche de convolution, fixés à la main. Pointez (ou touchez) une case d'une carte de caractéristiques ci-dessous : sa fenêtre sur l'image est encadrée, et voici les neuf produits dont elle est la moyenne.",
    "xo.feature0": "diagonale \\",
    "xo.feature1": "croix centrale",
    "xo.feature2": "diagonale /",
    "xo.products": "Caractéristique {f}, case (ligne {r}, colonne {c}) : les neuf produits image × caractéristique",
    "xo.mean": "Leur somme vaut {sum} ; divisée par 9 : {mean}, la valeur de la case (1,00 : correspondance parfaite).",
    "xo.stepsTitle": "Convolution, correction ReLU, pooling, mise à plat",
    "xo.stepsText": "Chaque caractéristique glissée sur l'image donne une carte de caractéristiques (7×7) ; la correction ReLU remplace les valeurs négatives par 0 ; le pooling (max, 2×2) garde la plus grande valeur de chaque fenêtre (les fenêtres qui dépassent du bord gardent ce qu'elles couvrent) ; la mise à plat aligne les cartes réduites en un seul vecteur, l'entrée d'une couche fully connected.",
    "xo.map": "Carte de caractéristiques",
    "xo.relu": "Après la correction ReLU",
    "xo.pool": "Après le pooling 2×2 (max)",
    "xo.flat": "Mise à plat : {n} valeurs (canaux en dernier : les trois cartes réduites s'entrelacent)",
    "xo.learnTitle": "Un petit CNN apprend à distinguer X et O",
    "xo.learnText": "Les mêmes couches (3 filtres 3×3, correction ReLU, pooling 2×2, mise à plat, 2 sorties) partent de filtres au hasard et apprennent par rétropropagation, sur des X et des O décalés, tournés, agrandis et épaissis au hasard ; puis on les teste sur des formes nouvelles. Comparez les filtres appris aux caractéristiques faites à la main.",
    "xo.train": "Entraîner le petit CNN",
    "xo.result": "{acc} % de bonnes réponses sur {tested} formes nouvelles ; perte moyenne {first} à la première époque, {last} à la dernière.",
    "xo.filter": "Filtre appris",
    "footer": "chiffre : un réseau convolutif écrit de zéro en Rust, ici compilé en WebAssembly. MNIST de Y. LeCun, C. Cortes et C. Burges (CC BY-SA 3.0).",
  },
};

function initialLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && STRINGS[asked]) return asked;
  try {
    const kept = localStorage.getItem("chiffre.lang");
    if (kept && STRINGS[kept]) return kept;
  } catch (_) {
    // Storage may be off (private browsing): the browser's languages decide.
  }
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const short = String(l).slice(0, 2).toLowerCase();
    if (STRINGS[short]) return short;
  }
  return "en";
}

let language = initialLanguage();

function currentLanguage() {
  return language;
}

/** The text of `key` in the page's language, with {name} replaced by values[name]. */
function t(key, values) {
  const text = (STRINGS[language] && STRINGS[language][key]) || STRINGS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (values && name in values ? String(values[name]) : `{${name}}`));
}

/** A number written the page's way (a decimal comma and narrow spaces in French). */
function formatNumber(value, digits) {
  return Number(value).toLocaleString(language === "fr" ? "fr-FR" : "en-GB", {
    minimumFractionDigits: digits || 0,
    maximumFractionDigits: digits || 0,
  });
}

/** Switches the page to `lang` ("en" or "fr") and tells the scripts (event "chiffre:language"). */
function setLanguage(lang) {
  if (!STRINGS[lang]) return;
  language = lang;
  try {
    localStorage.setItem("chiffre.lang", lang);
  } catch (_) {
    // Not kept: fine.
  }
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  document.dispatchEvent(new CustomEvent("chiffre:language", { detail: lang }));
}
